"""Assisted filing over the API: the same steps and rules as the web pages (``assisted.py``).

1. ``POST /assisted/consents`` (code by SMS or e-mail) or ``POST /assisted/consents/paper``
   (multipart, the signed form scanned): record how the citizen consents.
2. ``POST /assisted/consents/{id}/confirm``: the code the citizen reads out.
3. ``POST /assisted/consents/{id}/draft``: the citizen's draft, assisted by the caller; then
   the ordinary ``PATCH /drafts/{id}``, uploads and ``POST /drafts/{id}/submit`` file it (the
   policy lets an intermediary act on the drafts they assist).
4. ``GET /assisted/filings``: the expedientes the caller filed for others.

Errors use the API's stable codes: ``validation_error`` (422, with ``fields``),
``consent_missing`` (409), ``rate_limited`` (429 with ``Retry-After``), ``not_found`` (404:
not the caller's own consent), ``forbidden`` (403: the caller is not an intermediary, or no
longer at the desk where they took the consent; policy actions ``assisted.start`` and
``assisted.consent``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from tambo.catalog import queries as catalog_queries
from tambo.core.errors import NotFound
from tambo.identity.phones import masked

from . import assisted
from .api import DraftOut, FilingOut, _draft, _filing
from .models import AssistedConsent

router = Router(tags=["presentación asistida"])


class ConsentIn(Schema):
    agency: str
    procedure: str
    document_type: Literal["dni", "ce", "ruc"] = "dni"
    document_number: str
    method: Literal["sms", "email"]
    unit_id: int | None = None


class PaperConsentIn(Schema):
    agency: str
    procedure: str
    document_type: Literal["dni", "ce", "ruc"] = "dni"
    document_number: str
    unit_id: int | None = None


class CodeIn(Schema):
    code: str


class ConsentOut(Schema):
    id: UUID
    agency: str
    procedure: str
    method: str
    status: Literal["pending", "granted"]
    sent_to: str
    code_expires_at: dt.datetime | None
    attempts_left: int
    delivery: str


def _consent(consent: AssistedConsent) -> dict[str, Any]:
    citizen = consent.citizen
    sent_to = {"sms": masked(citizen.phone), "email": "•••@" + citizen.email.partition("@")[2]}
    return {
        "id": consent.pk,
        "agency": consent.procedure.agency.code,
        "procedure": consent.procedure.code,
        "method": consent.method,
        "status": "granted" if consent.granted_at else "pending",
        "sent_to": sent_to.get(consent.method, ""),
        "code_expires_at": consent.code_expires_at,
        "attempts_left": max(0, assisted.MAX_ATTEMPTS - consent.attempts),
        "delivery": assisted.code_delivery(consent),
    }


def _procedure(agency: str, code: str) -> Any:
    procedure = catalog_queries.get_procedure(agency, code)
    if procedure is None or procedure.current_version is None:
        raise NotFound("No such procedure.", field="procedure")
    return procedure


@router.post("/assisted/consents", response={201: ConsentOut})
def request_consent(request: HttpRequest, payload: ConsentIn) -> Any:
    """Send the one-time code to the phone or e-mail on the citizen's own account."""
    procedure = _procedure(payload.agency, payload.procedure)
    consent = assisted.request_consent(
        request.user,
        procedure,
        document_type=payload.document_type,
        document_number=payload.document_number[:20],
        method=payload.method,
        unit_id=payload.unit_id,
    )
    return Status(201, _consent(assisted.get_consent(request.user, consent.pk)))


@router.post("/assisted/consents/paper", response={201: ConsentOut})
def paper_consent(
    request: HttpRequest, payload: Form[PaperConsentIn], scan: File[UploadedFile]
) -> Any:
    """The consent form signed on paper, scanned (PDF, JPEG or PNG, part name ``scan``)."""
    procedure = _procedure(payload.agency, payload.procedure)
    consent = assisted.request_consent(
        request.user,
        procedure,
        document_type=payload.document_type,
        document_number=payload.document_number[:20],
        method="paper",
        scan=scan,
        unit_id=payload.unit_id,
    )
    return Status(201, _consent(assisted.get_consent(request.user, consent.pk)))


@router.get("/assisted/consents/{consent_id}", response=ConsentOut)
def get_consent(request: HttpRequest, consent_id: UUID) -> Any:
    return _consent(assisted.get_consent(request.user, consent_id))


@router.post("/assisted/consents/{consent_id}/confirm", response=ConsentOut)
def confirm_code(request: HttpRequest, consent_id: UUID, payload: CodeIn) -> Any:
    """A wrong code answers 422 (field ``code``) and counts as one of the attempts."""
    return _consent(assisted.confirm_code(request.user, consent_id, payload.code[:12]))


@router.post("/assisted/consents/{consent_id}/draft", response={201: DraftOut})
def start_draft(request: HttpRequest, consent_id: UUID) -> Any:
    """The citizen's draft for the consented procedure (the same one if asked again)."""
    draft = assisted.start_assisted_draft(request.user, consent_id)
    return Status(201, _draft(draft))


@router.get("/assisted/filings", response=list[FilingOut])
def filed_by_me(request: HttpRequest) -> Any:
    """The expedientes the caller filed for others (never those citizens' other ones)."""
    return [_filing(f) for f in assisted.filed_by_me(request.user)]
