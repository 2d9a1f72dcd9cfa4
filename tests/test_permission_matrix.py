"""The permission matrix: every object endpoint (web and API) × every identity.

The expected outcome comes from the declarative table ``ENDPOINTS`` (who may, who may see);
the identities cover every role of the policy, in and out of the object's agency and unit,
a delegate, a lapsed delegate, the owner, another citizen and anonymous. Denied requests must
answer 403/404 (401 or a login redirect for anonymous), hide objects from who may not see
them (404, never 403), leak nothing of the object in the body, and change nothing.

``test_every_route_is_in_the_matrix_or_public`` enumerates all URL patterns and API
operations, so a new endpoint cannot be added without a row here or a justified public entry.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from tambo.api import api
from tambo.cases import actions, assisted, desk_accounts, transitions
from tambo.cases.models import (
    AccountEnrolment,
    AssistedConsent,
    Document,
    Draft,
    Filing,
    ObtainedEvidence,
)
from tambo.catalog.models import OrgUnit
from tambo.core import clock
from tambo.core.models import AuditEntry
from tambo.demo.samples import MINIMAL_PDF
from tambo.documents.models import IssuedDocument
from tambo.identity import policy
from tambo.identity.models import ApiToken, Delegation, User
from tambo.inbox.models import Notice

from .conftest import (
    PNG_1PX,
    answers_for,
    login_official,
    make_citizen,
    make_official,
    pdf_upload,
    procedure,
)

T = transitions.TransitionInput

# Who is who. Agency MDSI, unit GDE holds the owner's expedientes (LF-RIESGO-BAJO).
OWNER, OTHER, ANON = "owner", "other_citizen", "anonymous"
FRONT_DESK, EVALUATOR, SIGNER, SUPERVISOR = "front_desk", "evaluator", "signer", "supervisor"
DELEGATE, LAPSED = "delegate", "lapsed_delegate"
OTHER_UNIT, OTHER_AGENCY = "other_unit_official", "other_agency_official"
# Intermediaries at MDSI's service centre (unit MP): the one who holds the owner's consent
# and assisted draft, and another one at the same desk who must not see them; and one at
# MTC's service centre (another agency), who must not see them either.
INTERMEDIARY, OTHER_INTERMEDIARY = "intermediary", "other_intermediary"
OTHER_AGENCY_INTERMEDIARY = "other_agency_intermediary"
IDENTITIES = [
    ANON,
    OWNER,
    OTHER,
    FRONT_DESK,
    EVALUATOR,
    SIGNER,
    SUPERVISOR,
    DELEGATE,
    LAPSED,
    OTHER_UNIT,
    OTHER_AGENCY,
    INTERMEDIARY,
    OTHER_INTERMEDIARY,
    OTHER_AGENCY_INTERMEDIARY,
]
ON_FILING = {FRONT_DESK, EVALUATOR, SIGNER, SUPERVISOR, DELEGATE}
OFFICIALS = ON_FILING | {LAPSED, OTHER_UNIT, OTHER_AGENCY}
SIGNED_IN = set(IDENTITIES) - {ANON}
RULES: dict[str, set[str]] = {
    "owner": {OWNER},
    "viewer": {OWNER} | ON_FILING,
    "office": ON_FILING,
    "front_desk": {FRONT_DESK},
    "taker": {FRONT_DESK, EVALUATOR, SIGNER, DELEGATE},
    "signer": {SIGNER, DELEGATE},
    "supervisor": {SUPERVISOR},
    "may_delegate_signing": {SUPERVISOR, SIGNER},
    # The owner's MTC expediente (once-only evidence): its officials are the MTC ones.
    "radio_viewer": {OWNER, OTHER_AGENCY},
    "agency_official": OFFICIALS - {OTHER_AGENCY},
    "official": OFFICIALS,
    "signed_in": SIGNED_IN,
    "intermediary": {INTERMEDIARY},
    "intermediaries": {INTERMEDIARY, OTHER_INTERMEDIARY, OTHER_AGENCY_INTERMEDIARY},
    "owner_or_intermediary": {OWNER, INTERMEDIARY},
}


@dataclass(frozen=True)
class Endpoint:
    """One row of the table: a request, who may make it, who may know the object exists."""

    name: str
    method: str
    path: str  # formatted with the world's keys: {draft}, {received}, {notice}, ...
    allowed: str  # a RULES key: these get 2xx (or a redirect after a web POST)
    sees: str  # a RULES key: the others get 404, never 403
    secrets: str = "allowed"  # who may find the owner's data in the body ("allowed" = same)
    data: dict[str, Any] = field(default_factory=dict)
    json: bool = False
    upload: bool = False
    upload_field: str = "file"
    changes: bool = False  # state-changing: a denied request must change nothing
    # The policy action that decides on the object of the URL: every signed-in identity's
    # request must ask ``policy.allows(user, action, <that object>)`` (so the row's outcome
    # is the policy's answer, not a check made beside it).
    action: str = ""

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")


WEB_PDF = "__pdf__"
ENDPOINTS = [
    # Drafts (owner only; nobody else may know a draft exists).
    Endpoint("web draft form", "GET", "/borradores/{draft}/", "owner", "owner"),
    Endpoint(
        "web draft save",
        "POST",
        "/borradores/{draft}/",
        "owner",
        "owner",
        data={"save_later": "1"},
        changes=True,
    ),
    Endpoint("web draft review", "GET", "/borradores/{draft}/revisar/", "owner", "owner"),
    Endpoint(
        "web draft submit", "POST", "/borradores/{draft}/revisar/", "owner", "owner", changes=True
    ),
    Endpoint(
        "web draft discard",
        "POST",
        "/borradores/{draft}/eliminar/",
        "owner",
        "owner",
        changes=True,
    ),
    Endpoint("api draft get", "GET", "/api/v1/drafts/{draft}", "owner", "owner"),
    Endpoint(
        "api draft save",
        "PATCH",
        "/api/v1/drafts/{draft}",
        "owner",
        "owner",
        data={"answers": {"nombre_comercial": "Otro nombre"}},
        json=True,
        changes=True,
    ),
    Endpoint(
        "api draft discard", "DELETE", "/api/v1/drafts/{draft}", "owner", "owner", changes=True
    ),
    Endpoint(
        "api draft upload",
        "POST",
        "/api/v1/drafts/{draft}/documents/{file_field}",
        "owner",
        "owner",
        upload=True,
        changes=True,
    ),
    Endpoint(
        "api draft remove document",
        "DELETE",
        "/api/v1/drafts/{draft}/documents/{file_field}",
        "owner",
        "owner",
        changes=True,
    ),
    Endpoint(
        "api draft submit",
        "POST",
        "/api/v1/drafts/{draft}/submit",
        "owner",
        "owner",
        changes=True,
    ),
    # Expedientes: the owner and the officials with a role on it.
    Endpoint("web filing", "GET", "/expedientes/{received}/", "viewer", "viewer"),
    Endpoint("web receipt", "GET", "/expedientes/{received}/cargo/", "viewer", "viewer"),
    Endpoint("web receipt pdf", "GET", "/expedientes/{received}/cargo.pdf", "viewer", "viewer"),
    Endpoint(
        "web resolution pdf",
        "GET",
        "/expedientes/{approved}/documentos/{resolution}.pdf",
        "viewer",
        "viewer",
    ),
    Endpoint(
        "web citizen correct",
        "POST",
        "/expedientes/{observed}/accion/correct/",
        "owner",
        "viewer",
        secrets="viewer",
        data={"reason": "Adjunto lo que faltaba."},
        changes=True,
    ),
    # Once-only: the citizen uploads what MTC could not obtain from MDSI (an MTC expediente).
    Endpoint(
        "web upload instead",
        "POST",
        "/expedientes/{radio}/subir-en-lugar/{requirement}/",
        "owner",
        "radio_viewer",
        secrets="radio_viewer",
        upload=True,
        upload_field="archivo",
        changes=True,
    ),
    Endpoint("api filing", "GET", "/api/v1/filings/{received}", "viewer", "viewer"),
    Endpoint(
        "api receipt pdf", "GET", "/api/v1/filings/{received}/receipt.pdf", "viewer", "viewer"
    ),
    Endpoint(
        "api citizen correct",
        "POST",
        "/api/v1/filings/{observed}/transitions/correct",
        "owner",
        "viewer",
        secrets="viewer",
        data={"reason": "Adjunto lo que faltaba."},
        json=True,
        changes=True,
    ),
    Endpoint(
        "api admit",
        "POST",
        "/api/v1/filings/{received}/transitions/admit",
        "front_desk",
        "viewer",
        secrets="viewer",
        data={},
        json=True,
        changes=True,
    ),
    Endpoint(
        "api approve",
        "POST",
        "/api/v1/filings/{ready}/transitions/approve",
        "signer",
        "viewer",
        secrets="viewer",
        data={"reason": "Cumple los requisitos."},
        json=True,
        changes=True,
    ),
    # The office's view: hidden from everyone without a role on the expediente.
    Endpoint("web office case", "GET", "/oficina/expedientes/{received}/", "office", "office"),
    Endpoint(
        "web office admit",
        "POST",
        "/oficina/expedientes/{received}/accion/admit/",
        "front_desk",
        "office",
        secrets="office",
        changes=True,
    ),
    Endpoint(
        "web office approve",
        "POST",
        "/oficina/expedientes/{ready}/accion/approve/",
        "signer",
        "office",
        secrets="office",
        data={"reason": "Cumple los requisitos."},
        changes=True,
    ),
    Endpoint(
        "web office take",
        "POST",
        "/oficina/expedientes/{evaluation}/tomar/",
        "taker",
        "office",
        secrets="office",
        changes=True,
    ),
    Endpoint(
        "web office assign",
        "POST",
        "/oficina/expedientes/{evaluation}/asignar/",
        "supervisor",
        "office",
        secrets="office",
        data={"assignee": "m_evaluator", "reason": "Reparto de carga."},
        changes=True,
    ),
    Endpoint(
        "web office file download",
        "GET",
        "/oficina/expedientes/{received}/archivos/{upload}/",
        "office",
        "office",
    ),
    Endpoint(
        "web office reserve",
        "POST",
        "/oficina/expedientes/{received}/reserva/",
        "supervisor",
        "office",
        secrets="office",
        data="__reserve_web__",  # type: ignore[arg-type]
        changes=True,
    ),
    Endpoint("api office case", "GET", "/api/v1/office/filings/{received}", "office", "office"),
    Endpoint(
        "api office reserve",
        "POST",
        "/api/v1/office/filings/{received}/reserve",
        "supervisor",
        "viewer",
        secrets="office",
        data="__reserve_api__",  # type: ignore[arg-type]
        json=True,
        changes=True,
    ),
    Endpoint(
        "api office take",
        "POST",
        "/api/v1/office/filings/{evaluation}/take",
        "taker",
        "viewer",
        secrets="office",
        changes=True,
    ),
    Endpoint(
        "api office assign",
        "POST",
        "/api/v1/office/filings/{evaluation}/assign",
        "supervisor",
        "viewer",
        secrets="office",
        data={"assignee": "m_evaluator", "reason": "Reparto de carga."},
        json=True,
        changes=True,
    ),
    # Queues: only who holds the role in the unit (today, for a delegate).
    Endpoint("web office home", "GET", "/oficina/", "official", "official", secrets="office"),
    Endpoint("web signer queue", "GET", "/oficina/bandeja/{unit}/signer/", "signer", "signer"),
    Endpoint("api my queues", "GET", "/api/v1/office/queues", "signed_in", "signed_in", "office"),
    Endpoint("api signer queue", "GET", "/api/v1/office/queues/{unit}/signer", "signer", "signer"),
    # Notices: the owner's casilla.
    Endpoint("web notice", "GET", "/casilla/{notice}/", "owner", "owner", changes=True),
    Endpoint(
        "api notice read", "POST", "/api/v1/inbox/{notice}/read", "owner", "owner", changes=True
    ),
    # Lists of one's own things: everyone signed in, the owner's data only to the owner.
    Endpoint("web my filings", "GET", "/mis-expedientes/", "signed_in", "signed_in", "owner"),
    Endpoint("web inbox", "GET", "/casilla/", "signed_in", "signed_in", "owner"),
    Endpoint("api my filings", "GET", "/api/v1/filings", "signed_in", "signed_in", "owner"),
    Endpoint("api inbox", "GET", "/api/v1/inbox", "signed_in", "signed_in", "owner"),
    Endpoint("web account", "GET", "/cuenta/", "signed_in", "signed_in", "owner"),
    # Starting and filing one's own: anyone signed in, as a citizen.
    Endpoint(
        "web start draft",
        "POST",
        "/tramites/MDSI/LF-RIESGO-BAJO/empezar/",
        "signed_in",
        "signed_in",
        "owner",
        changes=True,
    ),
    Endpoint(
        "api start draft",
        "POST",
        "/api/v1/drafts",
        "signed_in",
        "signed_in",
        "owner",
        data={"agency": "MDSI", "procedure": "LF-RIESGO-BAJO"},
        json=True,
        changes=True,
    ),
    Endpoint(
        "api file directly",
        "POST",
        "/api/v1/filings",
        "signed_in",
        "signed_in",
        "owner",
        data={"agency": "MDSI", "procedure": "ACCESO-INFORMACION", "answers": "__direct__"},
        json=True,
        changes=True,
    ),
    # Officials' second factor: a supervisor resets that of an official of their unit.
    Endpoint("web staff", "GET", "/oficina/personal/", "official", "official"),
    Endpoint(
        "web reset second factor",
        "POST",
        "/oficina/personal/{staff_member}/segundo-factor/restablecer/",
        "supervisor",
        "supervisor",
        data={"reason": "Perdió su teléfono."},
        changes=True,
    ),
    # Delegations: the office page (no JavaScript) and the API.
    Endpoint("web delegations", "GET", "/oficina/delegaciones/", "official", "official"),
    Endpoint(
        "web grant delegation",
        "POST",
        "/oficina/delegaciones/",
        "may_delegate_signing",
        "agency_official",
        secrets="office",
        data="__grant_web__",  # type: ignore[arg-type]
        changes=True,
    ),
    Endpoint(
        "web revoke delegation",
        "POST",
        "/oficina/delegaciones/{delegation}/revocar/",
        "may_delegate_signing",
        "agency_official",
        secrets="office",
        data={"revoke_reason": "Volvió de vacaciones."},
        changes=True,
    ),
    Endpoint(
        "api delegations", "GET", "/api/v1/office/delegations", "official", "signed_in", "office"
    ),
    Endpoint(
        "api grant delegation",
        "POST",
        "/api/v1/office/delegations",
        "may_delegate_signing",
        "agency_official",
        secrets="office",
        data="__grant__",  # type: ignore[arg-type]
        json=True,
        changes=True,
    ),
    Endpoint(
        "api revoke delegation",
        "POST",
        "/api/v1/office/delegations/{delegation}/revoke",
        "may_delegate_signing",
        "agency_official",
        secrets="office",
        data={"reason": "Volvió de vacaciones."},
        json=True,
        changes=True,
    ),
    # Assisted filing (issue 6): the intermediary's own consents, drafts and filings; another
    # intermediary at the same desk gets 404, citizens and officials 403 or 404.
    Endpoint("web assisted home", "GET", "/asistido/", "intermediaries", "intermediaries"),
    Endpoint(
        "web assisted start",
        "GET",
        "/asistido/MDSI/ACCESO-INFORMACION/",
        "intermediaries",
        "intermediaries",
    ),
    Endpoint(
        "web assisted consent",
        "POST",
        "/asistido/MDSI/ACCESO-INFORMACION/",
        "intermediaries",
        "intermediaries",
        data={"document_type": "dni", "document_number": "40123456", "method": "email"},
        changes=True,
    ),
    Endpoint(
        "web assisted code",
        "GET",
        "/asistido/consentimiento/{pending_consent}/",
        "intermediary",
        "intermediary",
        action="assisted.consent",
    ),
    Endpoint(
        "web assisted confirm",
        "POST",
        "/asistido/consentimiento/{consent}/",
        "intermediary",
        "intermediary",
        data={"code": "000000"},
        changes=True,
        action="assisted.consent",
    ),
    Endpoint(
        "web assisted open draft",
        "POST",
        "/asistido/consentimiento/{consent}/borrador/",
        "intermediary",
        "intermediary",
        changes=True,
        action="assisted.consent",
    ),
    Endpoint(
        "web assisted draft form",
        "GET",
        "/borradores/{assisted_draft}/",
        "owner_or_intermediary",
        "owner_or_intermediary",
    ),
    Endpoint(
        "web desk account form",
        "GET",
        "/asistido/cuentas/nueva/",
        "intermediaries",
        "intermediaries",
    ),
    Endpoint(
        "web desk account",
        "GET",
        "/asistido/cuentas/{enrolment}/",
        "intermediary",
        "intermediary",
        action="assisted.enrolment",
    ),
    Endpoint(
        "web desk account code",
        "GET",
        "/asistido/cuentas/{enrolment}/codigo/",
        "intermediary",
        "intermediary",
        action="assisted.enrolment",
    ),
    Endpoint(
        "web desk account confirm",
        "POST",
        "/asistido/cuentas/{enrolment}/codigo/",
        "intermediary",
        "intermediary",
        data={"code": "000000"},
        changes=True,
        action="assisted.enrolment",
    ),
    Endpoint(
        "web desk account resend",
        "POST",
        "/asistido/cuentas/{enrolment}/reenviar/",
        "intermediary",
        "intermediary",
        changes=True,
        action="assisted.enrolment",
    ),
    Endpoint(
        "api assisted consent",
        "POST",
        "/api/v1/assisted/consents",
        "intermediaries",
        "signed_in",
        data={
            "agency": "MDSI",
            "procedure": "ACCESO-INFORMACION",
            "document_number": "40123456",
            "method": "email",
        },
        json=True,
        changes=True,
    ),
    Endpoint(
        "api assisted paper consent",
        "POST",
        "/api/v1/assisted/consents/paper",
        "intermediaries",
        "signed_in",
        data={"agency": "MDSI", "procedure": "ACCESO-INFORMACION", "document_number": "40123456"},
        upload=True,
        upload_field="scan",
        changes=True,
    ),
    Endpoint(
        "api assisted consent get",
        "GET",
        "/api/v1/assisted/consents/{pending_consent}",
        "intermediary",
        "intermediary",
        action="assisted.consent",
    ),
    Endpoint(
        "api assisted confirm",
        "POST",
        "/api/v1/assisted/consents/{consent}/confirm",
        "intermediary",
        "intermediary",
        data={"code": "000000"},
        json=True,
        changes=True,
        action="assisted.consent",
    ),
    Endpoint(
        "api assisted draft",
        "POST",
        "/api/v1/assisted/consents/{consent}/draft",
        "intermediary",
        "intermediary",
        changes=True,
        action="assisted.consent",
    ),
    Endpoint(
        "api assisted draft save",
        "PATCH",
        "/api/v1/drafts/{assisted_draft}",
        "owner_or_intermediary",
        "owner_or_intermediary",
        data={"answers": {}},
        json=True,
        changes=True,
    ),
    Endpoint(
        "api assisted filings", "GET", "/api/v1/assisted/filings", "intermediaries", "signed_in"
    ),
]

# Routes that are not object endpoints, each with why it needs no row in the matrix.
PUBLIC_ROUTES = {
    "admin/": "Django admin: staff only, Django's own permissions (read-only admin)",
    "i18n/": "language switch: sets a cookie, touches no object",
    "ingresar/": "login page",
    "salir/": "logout",
    "": "catalogue home (public: catalog.view)",
    "tramites/": "catalogue search (public: catalog.view)",
    "entidades/<str:code>/": "agency page (public: catalog.view)",
    "tramites/<str:agency>/<str:code>/": "procedure page (public: catalog.view)",
    "consulta/": "status by number + access code (public: filing.status_by_code)",
    "verificar/": "document verification (public: document.verify)",
    "verificar/<str:code>/": "document verification (public: document.verify)",
    "bench/insert": "benchmark ceiling endpoint, only mounted with TAMBO_BENCH_ENDPOINTS",
    "x/v1/registry": "inter-agency exchange: RFC 9421 signatures + registry rules (exchange.*)",
    "x/v1/services/<str:code>/<str:version>/openapi.json": "inter-agency exchange (exchange.*)",
    "x/v1/services/<str:code>/<str:version>": "inter-agency exchange (exchange.*)",
    "health/live": "liveness probe: no object, no data (health.view)",
    "health/ready": "readiness probe: no object, no data (health.view)",
    "ingresar/idgob/": "login with ID Gob.pe (OIDC): redirect to the provider",
    "ingresar/idgob/retorno/": "OIDC callback: state, nonce and token checked (tests/test_oidc.py)",
    "ingresar/segundo-factor/": "second factor of the signed-in user's own login",
    "ingresar/segundo-factor/registrar/": "enrolment of the signed-in user's own authenticator",
    "ingresar/segundo-factor/reemplazar/": "the signed-in, verified user replaces their own "
    "authenticator (tests/test_second_factor_reset.py)",
    "cuenta/accesos/": "the signed-in user's own access log: no object id (access.list_own)",
    "cuenta/datos/": "the signed-in user's own data and corrections: no object id",
    "cuenta/datos/descargar/": "copy of the signed-in user's own data: no object id",
    "sesion/seguir/": "restarts the caller's own session idle clock (WCAG 2.2.1): no object",
    "cuenta/activar/<str:token>/": "one-time activation link of a desk-created account: the "
    "unguessable token is the credential (tests/test_desk_accounts.py)",
}
# Routes merged after the matrix was written and covered by their own tests for now, each
# with the test that covers it, so a gap is explicit. Empty: every route has its rows.
NOT_YET_IN_MATRIX: dict[str, str] = {}
PUBLIC_OPERATIONS = {
    ("GET", "/api/v1/agencies"): "catalogue (public)",
    ("GET", "/api/v1/procedures"): "catalogue (public)",
    ("GET", "/api/v1/procedures/{agency}/{code}"): "catalogue (public)",
    ("POST", "/api/v1/status"): "status by number + access code (public)",
    ("GET", "/api/v1/verify/{code}"): "document verification (public)",
    ("POST", "/api/v1/verify"): "document verification (public)",
    ("GET", "/api/v1/audit/checkpoints"): "transparency log (public: audit.view)",
    ("GET", "/api/v1/audit/checkpoints/latest"): "transparency log (public: audit.view)",
    ("GET", "/api/v1/audit/proofs/consistency"): "transparency log (public: audit.view)",
    ("GET", "/api/v1/audit/proofs/inclusion"): "transparency log (public: audit.view)",
    ("GET", "/api/v1/audit/public-key"): "transparency log (public: audit.view)",
    ("GET", "/api/v1/me/accesses"): "the caller's own access log: no object id (access.list_own)",
    ("GET", "/api/v1/me/data.zip"): "copy of the caller's own data: no object id",
    ("GET", "/api/v1/open-data/once-only"): "open data (public: open_data.view)",
}
# API operations merged after the matrix was written, covered by their own tests for now.
NOT_YET_IN_MATRIX_OPERATIONS: dict[tuple[str, str], str] = {}


@dataclass
class World:
    users: dict[str, User]
    tokens: dict[str, str]
    keys: dict[str, str]
    secrets: list[str]


def _owned_answers(proc: Any) -> dict[str, Any]:
    answers = answers_for(proc)
    for f in proc.current_version.file.form:
        if f.type == "text" and f.name in answers:
            answers[f.name] = f"Zq secreto {f.name}"
    return answers


def _draft(owner: User, proc: Any, answers: dict[str, Any]) -> Draft:
    draft = actions.start_draft(owner, proc.current_version)
    actions.save_answers(owner, draft.pk, answers)
    for f in proc.current_version.file.form:
        if f.type == "file":
            actions.attach_document(owner, draft.pk, f.name, pdf_upload(), "plano.pdf")
    return draft


def _build_world() -> World:
    from django.conf import settings

    from tambo.catalog.loader import load_directory

    load_directory(settings.TAMBO_CATALOG_DIR)
    owner = make_citizen("zoilaowner", "40123456")
    users = {
        OWNER: owner,
        OTHER: make_citizen("pedrother", "40999888"),
        FRONT_DESK: make_official("m_front", "MDSI", ["front_desk"], ["MP"]),
        EVALUATOR: make_official("m_evaluator", "MDSI", ["evaluator"], ["GDE"]),
        SIGNER: make_official("m_signer", "MDSI", ["signer"], ["GDE"]),
        SUPERVISOR: make_official("m_supervisor", "MDSI", ["supervisor"], ["GDE"]),
        DELEGATE: make_official("m_delegate", "MDSI", ["evaluator"], ["GDU"]),
        LAPSED: make_official("m_lapsed", "MDSI", ["evaluator"], ["GDU"]),
        OTHER_UNIT: make_official(
            "m_other_unit", "MDSI", ["evaluator", "signer", "supervisor"], ["GDU"]
        ),
        OTHER_AGENCY: make_official(
            "t_official", "MTC", ["front_desk", "evaluator", "signer", "supervisor"]
        ),
        INTERMEDIARY: make_official("i_ana", "MDSI", ["intermediary"], ["MP"]),
        OTHER_INTERMEDIARY: make_official("i_luis", "MDSI", ["intermediary"], ["MP"]),
        OTHER_AGENCY_INTERMEDIARY: make_official("t_intermediary", "MTC", ["intermediary"], ["MP"]),
    }
    gde = OrgUnit.objects.get(agency__code="MDSI", code="GDE")
    today = clock.local_now().date()
    delegation = Delegation.objects.create(
        delegator=users[SUPERVISOR],
        delegate=users[DELEGATE],
        unit=gde,
        role="signer",
        starts_on=today - dt.timedelta(days=1),
        ends_on=today + dt.timedelta(days=10),
        reason="Vacaciones del firmante.",
        created_at=clock.now(),
    )
    Delegation.objects.create(
        delegator=users[SUPERVISOR],
        delegate=users[LAPSED],
        unit=gde,
        role="signer",
        starts_on=today - dt.timedelta(days=30),
        ends_on=today - dt.timedelta(days=5),
        reason="Vacaciones anteriores.",
        created_at=clock.now(),
    )
    proc = procedure("LF-RIESGO-BAJO", "MDSI")
    answers = _owned_answers(proc)
    draft = _draft(owner, proc, answers)
    filings = {}
    for key in ("received", "evaluation", "observed", "ready", "approved"):
        filings[key] = actions.submit_draft(owner, _draft(owner, proc, answers).pk).filing
    desk, evaluator, signer = users[FRONT_DESK], users[EVALUATOR], users[SIGNER]
    transitions.take(desk, filings["observed"].number, "observe", T(reason="Falta el plano."))
    for key in ("evaluation", "ready", "approved"):
        transitions.take(desk, filings[key].number, "admit")
    for key in ("ready", "approved"):
        transitions.take(evaluator, filings[key].number, "propose", T(report="Conforme."))
    transitions.take(signer, filings["approved"].number, "approve", T(reason="Conforme."))
    resolution = IssuedDocument.objects.get(
        subject_id=filings["approved"].number, kind="resolution"
    )
    # An MTC expediente whose licence MTC failed to obtain from MDSI: the citizen may upload it.
    radio_proc = procedure("RADIOAFICIONADO", "MTC")
    radio_draft = actions.start_draft(owner, radio_proc.current_version)
    actions.save_answers(owner, radio_draft.pk, answers_for(radio_proc))
    for f in radio_proc.current_version.file.form:
        if f.type == "file" and f.required:
            actions.attach_document(owner, radio_draft.pk, f.name, pdf_upload(), "examen.pdf")
    radio = actions.submit_draft(owner, radio_draft.pk).filing
    evidence_row = ObtainedEvidence.objects.get(filing=radio)
    ObtainedEvidence.objects.filter(pk=evidence_row.pk).update(status="failed")
    notice = Notice.objects.get(filing=filings["observed"])
    # The intermediary's consents (one granted on paper, with its assisted draft; one waiting
    # for its code) and an account they created at the desk.
    helper = users[INTERMEDIARY]
    direct = procedure("ACCESO-INFORMACION", "MDSI")
    consent = assisted.request_consent(
        helper,
        direct,
        document_type="dni",
        document_number=owner.document_number,
        method="paper",
        scan=io.BytesIO(PNG_1PX),
    )
    assisted_draft = assisted.start_assisted_draft(helper, consent.pk)
    pending = assisted.request_consent(
        helper, direct, document_type="dni", document_number=owner.document_number, method="email"
    )
    enrolment = desk_accounts.request_account(
        helper,
        document_number="45678912",
        first_name="Nueva",
        last_name="Persona",
        email="nueva@example.pe",
        method="paper",
        scan=io.BytesIO(PNG_1PX),
    )
    file_field = next(f.name for f in proc.current_version.file.form if f.type == "file")
    keys = {
        "draft": str(draft.pk),
        "file_field": file_field,
        "notice": str(notice.pk),
        "unit": str(gde.pk),
        "resolution": resolution.code,
        "delegation": str(delegation.pk),
        "upload": str(Document.objects.filter(filing=filings["received"]).first().pk),
        "staff_member": str(users[EVALUATOR].pk),
        "radio": radio.number,
        "requirement": evidence_row.requirement,
        "consent": str(consent.pk),
        "pending_consent": str(pending.pk),
        "assisted_draft": str(assisted_draft.pk),
        "enrolment": str(enrolment.pk),
        **{key: f.number for key, f in filings.items()},
    }
    tokens = {name: ApiToken.issue(user, "matrix")[1] for name, user in users.items()}
    secrets = [
        *(f.number for f in filings.values()),
        radio.number,
        str(draft.pk),
        owner.first_name,
        owner.document_number,
        *(v for v in answers.values() if isinstance(v, str) and v.startswith("Zq secreto")),
        notice.title,
        resolution.code,
    ]
    return World(users, tokens, keys, secrets)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """One world for the module, inside a transaction rolled back at the end.

    Each test runs in its own nested transaction (pytest-django's ``db``), so the
    state-changing requests of one test are undone before the next.
    """
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield _build_world()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _client(world: World, who: str, endpoint: Endpoint) -> Client:
    if who == ANON:
        return Client()
    if endpoint.is_api:
        return Client(headers={"Authorization": f"Bearer {world.tokens[who]}"})
    user = world.users[who]
    if policy.needs_second_factor(user):
        return login_official(Client(), user)  # officials: password and a real TOTP code
    client = Client()
    client.force_login(user)
    return client


def _payload(world: World, endpoint: Endpoint) -> Any:
    if endpoint.data == "__grant_web__":
        today = clock.local_now().date()
        return {
            "delegate": "m_other_unit",
            "unit_role": f"{world.keys['unit']}:signer",
            "starts_on": today.isoformat(),
            "ends_on": (today + dt.timedelta(days=7)).isoformat(),
            "reason": "Licencia del firmante.",
        }
    if endpoint.data == "__grant__":
        today = clock.local_now().date()
        return {
            "delegate": "m_other_unit",
            "unit_id": int(world.keys["unit"]),
            "role": "signer",
            "starts_on": today.isoformat(),
            "ends_on": (today + dt.timedelta(days=7)).isoformat(),
            "reason": "Licencia del firmante.",
        }
    if endpoint.data in ("__reserve_web__", "__reserve_api__"):
        until = (clock.local_now().date() + dt.timedelta(days=30)).isoformat()
        reason_key = "reserve_reason" if endpoint.data == "__reserve_web__" else "reason"
        return {"until": until, reason_key: "Ley 27806, art. 17 (investigación en curso)."}
    data = dict(endpoint.data)
    if data.get("answers") == "__direct__":
        data["answers"] = answers_for(procedure("ACCESO-INFORMACION", "MDSI"))
    return data


def _request(client: Client, endpoint: Endpoint, path: str, payload: Any) -> Any:
    """The response, with a streamed body (a file download) read into ``content``."""
    response = _send(client, endpoint, path, payload)
    if response.streaming:
        # Reading it to the end closes it: the test client's wrapper calls close() then,
        # without ending the database connection (a second close() would, mid-transaction).
        body = b"".join(response.streaming_content)
        return HttpResponse(body, status=response.status_code, headers=dict(response.items()))
    return response


def _send(client: Client, endpoint: Endpoint, path: str, payload: Any) -> Any:
    method = endpoint.method.lower()
    if endpoint.upload:
        upload = io.BytesIO(MINIMAL_PDF)
        upload.name = "otro.pdf"
        return client.post(path, {**(payload or {}), endpoint.upload_field: upload})
    if endpoint.json:
        return getattr(client, method)(path, payload, content_type="application/json")
    if method == "get":
        return client.get(path)
    return getattr(client, method)(path, payload)


def _fingerprint() -> tuple[Any, ...]:
    """Everything a denied request might have changed."""
    return (
        # Viewing a case the official may see is recorded (privacy.access) even when the
        # action asked for is refused: that is a read, not a change.
        AuditEntry.objects.exclude(action="privacy.access").count(),
        Draft.objects.count(),
        Document.objects.count(),
        tuple(
            Filing.objects.order_by("pk").values_list(
                "number", "status", "lock_version", "assignee_id"
            )
        ),
        tuple(Notice.objects.order_by("pk").values_list("pk", "read_at")),
        tuple(Delegation.objects.order_by("pk").values_list("pk", "revoked_at")),
        tuple(Filing.objects.order_by("pk").values_list("pk", "reserved_until")),
        tuple(ObtainedEvidence.objects.order_by("pk").values_list("pk", "status")),
        tuple(User.objects.order_by("pk").values_list("pk", "session_generation")),
        TOTPDevice.objects.count(),
        StaticDevice.objects.count(),
        tuple(Draft.objects.order_by("pk").values_list("pk", "answers")),
        tuple(AssistedConsent.objects.order_by("pk").values_list("pk", "attempts", "granted_at")),
        tuple(AccountEnrolment.objects.order_by("pk").values_list("pk", "activation_hash")),
    )


def _record_policy_questions(monkeypatch) -> list[tuple[str, Any]]:
    """Every ``(action, object pk)`` the policy is asked about from now on in this test."""
    asked: list[tuple[str, Any]] = []
    original = policy.allows

    def recording(user: Any, action: str, obj: Any = None) -> bool:
        asked.append((action, getattr(obj, "pk", None)))
        return original(user, action, obj)

    # ``require`` calls ``allows`` through the module's globals, so this sees it too.
    monkeypatch.setattr(policy, "allows", recording)
    return asked


def _expected_denial(endpoint: Endpoint, who: str) -> set[int]:
    if who == ANON:
        return {401} if endpoint.is_api else {302}
    if who in RULES[endpoint.sees]:
        return {403, 404}
    return {404}


CASES = [(e, who) for e in ENDPOINTS for who in IDENTITIES]


@pytest.mark.django_db
@pytest.mark.parametrize(("endpoint", "who"), CASES, ids=[f"{e.name}-{who}" for e, who in CASES])
def test_matrix(world, monkeypatch, endpoint: Endpoint, who: str) -> None:
    path = endpoint.path.format(**world.keys)
    client = _client(world, who, endpoint)
    before = _fingerprint() if endpoint.changes else None
    asked = _record_policy_questions(monkeypatch)
    response = _request(client, endpoint, path, _payload(world, endpoint))
    status = response.status_code
    if endpoint.action and who != ANON:
        # Anonymous requests stop at the login (or the API's 401) before any object.
        on_object = {str(pk) for action, pk in asked if action == endpoint.action}
        assert any(pk in path for pk in on_object), (endpoint.action, asked)
    if who in RULES[endpoint.allowed]:
        assert 200 <= status < 400, (status, response.content[:500])
        if status == 302:
            assert "/ingresar/" not in response["Location"]
        return
    assert status in _expected_denial(endpoint, who), (status, response.content[:500])
    if status == 302:
        assert response["Location"].startswith("/ingresar/")
    if endpoint.is_api and status != 302:
        code = {401: "not_authenticated", 403: "forbidden", 404: "not_found"}[status]
        assert response.json()["error"]["code"] == code
    secrets_for = endpoint.allowed if endpoint.secrets == "allowed" else endpoint.secrets
    if who not in RULES[secrets_for]:
        body = response.content.decode(errors="replace").replace(path, "")
        leaked = [s for s in world.secrets if s and s in body]
        assert not leaked, leaked
    if before is not None:
        assert _fingerprint() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "endpoint",
    [e for e in ENDPOINTS if e.allowed in {"signed_in"}],
    ids=lambda e: e.name,
)
def test_lists_show_others_nothing_of_the_owner(world, endpoint: Endpoint) -> None:
    """Lists answer everyone signed in, but the owner's data only to the owner."""
    if endpoint.changes:
        return
    path = endpoint.path.format(**world.keys)
    owner_body = _request(_client(world, OWNER, endpoint), endpoint, path, {}).content.decode()
    if endpoint.secrets == "owner":
        assert any(s in owner_body for s in world.secrets), "the owner should see their own"


def _routes(resolver: URLResolver, prefix: str = "") -> list[str]:
    found = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route.startswith("admin/") or route.startswith("i18n/") or route == "api/v1/":
                found.append(route)
            else:
                found.extend(_routes(pattern, route))
        elif isinstance(pattern, URLPattern):
            found.append(route)
    return found


def test_every_route_is_in_the_matrix_or_public() -> None:
    """A new URL or API operation fails here until it has a matrix row or a public reason."""
    covered_routes = set()
    for endpoint in ENDPOINTS:
        if not endpoint.is_api:
            sample = endpoint.path.format(
                draft="00000000-0000-0000-0000-000000000000",
                received="N",
                observed="N",
                evaluation="N",
                ready="N",
                approved="N",
                resolution="C",
                notice="1",
                unit="1",
                upload="00000000-0000-0000-0000-000000000000",
                radio="N",
                requirement="R",
                delegation="1",
                staff_member="1",
                consent="00000000-0000-0000-0000-000000000000",
                pending_consent="00000000-0000-0000-0000-000000000000",
                assisted_draft="00000000-0000-0000-0000-000000000000",
                enrolment="00000000-0000-0000-0000-000000000000",
            )
            covered_routes.add(resolve(sample).route)
    missing = [
        route
        for route in _routes(get_resolver())
        if route not in covered_routes
        and route not in PUBLIC_ROUTES
        and route not in NOT_YET_IN_MATRIX
        and route.rstrip("/") + "/" not in PUBLIC_ROUTES
        and not route.startswith(("admin/", "i18n/", "api/v1/"))
    ]
    assert not missing, f"routes without a matrix row or a public reason: {missing}"

    covered_operations = (
        {(e.method, _template(e.path)) for e in ENDPOINTS if e.is_api}
        | set(PUBLIC_OPERATIONS)
        | set(NOT_YET_IN_MATRIX_OPERATIONS)
    )
    schema = api.get_openapi_schema()
    operations = {
        (method.upper(), path) for path, methods in schema["paths"].items() for method in methods
    }
    missing_operations = sorted(operations - covered_operations)
    assert not missing_operations, f"API operations without a matrix row: {missing_operations}"
    # The matrix itself only names operations that exist.
    assert covered_operations <= operations, sorted(covered_operations - operations)


API_PARAMS = {
    "{draft}": "{draft_id}",
    "{file_field}": "{field}",
    "{received}": "{number}",
    "{observed}": "{number}",
    "{evaluation}": "{number}",
    "{ready}": "{number}",
    "{approved}": "{number}",
    "{notice}": "{notice_id}",
    "{unit}": "{unit_id}",
    "{delegation}": "{delegation_id}",
    "{consent}": "{consent_id}",
    "{pending_consent}": "{consent_id}",
    "{assisted_draft}": "{draft_id}",
}


def _template(path: str) -> str:
    for ours, theirs in API_PARAMS.items():
        path = path.replace(ours, theirs)
    for transition in ("correct", "admit", "approve"):
        path = path.replace(f"/transitions/{transition}", "/transitions/{transition_id}")
    return path.replace("/queues/{unit_id}/signer", "/queues/{unit_id}/{role}")


@pytest.mark.django_db
def test_an_office_download_names_a_document_of_that_expediente_only(world) -> None:
    """The document id is looked up inside the expediente of the URL: an official who may
    see two expedientes cannot fetch one's file through the other's address (404)."""
    client = login_official(Client(), world.users[EVALUATOR])
    own = f"/oficina/expedientes/{world.keys['received']}/archivos/{world.keys['upload']}/"
    crossed = f"/oficina/expedientes/{world.keys['evaluation']}/archivos/{world.keys['upload']}/"
    download = next(e for e in ENDPOINTS if e.name == "web office file download")
    assert _request(client, download, own, {}).status_code == 200
    refused = _request(client, download, crossed, {})
    assert refused.status_code == 404
    assert MINIMAL_PDF not in refused.content


def test_every_desk_record_action_has_matrix_rows() -> None:
    """The policy's object actions on what intermediaries take at the desk are each the
    declared ``action`` of matrix rows, so their outcome for every identity is checked."""
    declared = {e.action for e in ENDPOINTS if e.action}
    assert set(policy.DESK_RECORD_ACTIONS) <= declared
    assert declared <= set(policy.DESK_RECORD_ACTIONS), "an unknown action is declared"


DESK_RECORD_ROWS = [e for e in ENDPOINTS if e.action in policy.DESK_RECORD_ACTIONS]


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["moved_to_another_agency", "no_longer_intermediary"])
@pytest.mark.parametrize("endpoint", DESK_RECORD_ROWS, ids=lambda e: e.name)
def test_an_intermediary_gone_from_the_desk_is_refused_what_they_took_there(
    world, endpoint: Endpoint, change: str
) -> None:
    """Consents and account requests are the intermediary's at the unit where they took
    them: after leaving that desk (now at another agency's centre, or at none) they get 403
    (they know the object exists) and nothing changes."""
    from tambo.identity.models import Appointment

    user = world.users[INTERMEDIARY]
    Appointment.objects.filter(user=user, role="intermediary").update(active=False)
    if change == "moved_to_another_agency":
        unit = OrgUnit.objects.get(agency__code="MTC", code="MP")
        Appointment.objects.create(user=user, unit=unit, role="intermediary")
    policy.forget(user)
    path = endpoint.path.format(**world.keys)
    client = _client(world, INTERMEDIARY, endpoint)
    before = _fingerprint()
    response = _request(client, endpoint, path, _payload(world, endpoint))
    assert response.status_code == 403, (response.status_code, response.content[:500])
    if endpoint.is_api:
        assert response.json()["error"]["code"] == "forbidden"
    assert _fingerprint() == before


@pytest.mark.django_db
@pytest.mark.parametrize("who", sorted(OFFICIALS))
def test_the_delegation_list_shows_what_delegation_view_allows(world, who: str) -> None:
    """The list of delegations (``GET /api/v1/office/delegations``) shows a delegation to who
    granted or received it and to who may revoke it (a supervisor or signer of its unit),
    as the policy's ``delegation.view`` answers, and to no other official."""
    delegation = Delegation.objects.get(pk=world.keys["delegation"])
    user = world.users[who]
    endpoint = next(e for e in ENDPOINTS if e.name == "api delegations")
    response = _request(_client(world, who, endpoint), endpoint, endpoint.path, {})
    assert response.status_code == 200
    listed = delegation.pk in {row["id"] for row in response.json()}
    assert listed == policy.allows(user, "delegation.view", delegation)
    assert listed == (who in {SUPERVISOR, DELEGATE, SIGNER})
