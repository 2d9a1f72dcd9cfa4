"""What the accessibility, keyboard, no-JavaScript and page-weight tests share.

``build_site`` puts real data behind every page a citizen or an official sees (a filed and
approved expediente with a signed resolution and a casilla notice, drafts at each step, an open
expediente in an official's queue); ``axe_violations`` runs axe-core (from npm, see
package.json) in the page; ``browser`` launches Debian's Chromium the way tests/test_browser.py
does. Nothing here fetches from the internet.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tambo.cases import actions, transitions
from tambo.demo.samples import MINIMAL_PDF

from .conftest import (
    answers_for,
    enrol_totp,
    make_citizen,
    make_official,
    pdf_upload,
    procedure,
    totp_code,
)
from .test_browser import CHROMIUM, CHROMIUM_ARGS

REPO = Path(__file__).resolve().parent.parent
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
LANGUAGES = ["es", "qu", "en"]
PASSWORD = "a-long-test-password"  # the fixtures' password
# Generous: the machine is shared, and Chromium starts slowly under load.
TIMEOUT_MS = 60_000


@dataclass
class Site:
    """Identifiers of the data behind the pages (numbers, codes, draft ids)."""

    agency: str
    procedure: str
    upload_procedure: str
    approved: str
    approved_access_code: str
    open_case: str
    document_code: str
    document_pdf: bytes
    notice_id: int
    drafts: dict[str, str] = field(default_factory=dict)
    official_device: object = None  # carla's authenticator (officials log in with TOTP)
    intermediary_device: object = None  # tambo_mesa's (an intermediary at MDSI's desk)
    activation_token: str = ""  # the one-time link of an account created at the desk


def _file(citizen, proc) -> str:
    draft = actions.start_draft(citizen, proc.current_version)
    actions.save_answers(citizen, draft.pk, answers_for(proc))
    for item in proc.current_version.file.form:
        if item.type == "file":
            actions.attach_document(citizen, draft.pk, item.name, pdf_upload(), "plano.pdf")
    return actions.submit_draft(citizen, draft.pk).filing.number


def build_site(catalog, languages: list[str]) -> Site:
    """Citizen ``ana`` and official ``carla`` (MDSI) with data on every page they see."""
    from tambo.documents.models import IssuedDocument
    from tambo.inbox.models import Notice

    licence = procedure("LF-RIESGO-BAJO", "MDSI")
    citizen = make_citizen("ana", "41234567")
    official = make_official("carla", "MDSI", ["front_desk", "evaluator", "signer", "supervisor"])
    approved = _file(citizen, licence)
    transitions.take(official, approved, "admit")
    transitions.take(
        official, approved, "propose", transitions.TransitionInput(report="Cumple todo.")
    )
    transitions.take(
        official, approved, "approve", transitions.TransitionInput(reason="Cumple los requisitos.")
    )
    open_case = _file(citizen, licence)
    document = IssuedDocument.objects.get(subject_id=approved, kind="resolution")
    with document.file.open("rb") as stream:
        pdf = stream.read()
    notice = Notice.objects.get(filing__number=approved)
    from tambo.cases.models import Filing

    _delegate_signing(official)

    site = Site(
        agency="MDSI",
        procedure=licence.code,
        upload_procedure=licence.code,
        approved=approved,
        approved_access_code=Filing.objects.get(number=approved).access_code,
        open_case=open_case,
        document_code=document.code,
        document_pdf=pdf,
        notice_id=notice.pk,
        official_device=enrol_totp(official),
        intermediary_device=enrol_totp(
            make_official("tambo_mesa", "MDSI", ["intermediary"], ["MP"])
        ),
    )
    site.activation_token = _desk_account(site.intermediary_device.user)
    for lang in languages:
        # An empty draft (its error state) and a complete one (check answers, then filed).
        site.drafts[f"empty-{lang}"] = str(actions.start_draft(citizen, licence.current_version).pk)
        complete = actions.start_draft(citizen, licence.current_version)
        actions.save_answers(citizen, complete.pk, answers_for(licence))
        for item in licence.current_version.file.form:
            if item.type == "file":
                actions.attach_document(citizen, complete.pk, item.name, pdf_upload(), "plano.pdf")
        site.drafts[f"complete-{lang}"] = str(complete.pk)
    return site


def _delegate_signing(official) -> None:
    """A delegation from ``official`` (carla) to another official, for the delegations page."""
    from tambo.catalog.models import OrgUnit
    from tambo.core import clock
    from tambo.identity.delegations import grant_delegation

    today = clock.local_now().date()
    grant_delegation(
        official,
        delegate=make_official("dario", "MDSI", ["evaluator"], ["GDU"]),
        unit=OrgUnit.objects.get(agency__code="MDSI", code="GDE"),
        role="signer",
        starts_on=today,
        ends_on=today + dt.timedelta(days=10),
        reason="Vacaciones de la firmante.",
    )


def _desk_account(intermediary) -> str:
    """An account created at the desk on paper consent; returns its activation token."""
    import io
    import re

    from django.core import mail

    from tambo.cases import desk_accounts

    from .conftest import PNG_1PX

    desk_accounts.request_account(
        intermediary,
        document_number="47777777",
        first_name="Nilda",
        last_name="Condori",
        email="nilda@example.pe",
        method="paper",
        scan=io.BytesIO(PNG_1PX),
    )
    return re.search(r"/cuenta/activar/([^/\s]+)/", mail.outbox[-1].body).group(1)


def png_scan() -> dict:
    from .conftest import PNG_1PX

    return {"name": "consentimiento.png", "mimeType": "image/png", "buffer": PNG_1PX}


@contextlib.contextmanager
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def new_page(chromium, base_url: str, lang: str, **options):
    """A page in its own context whose language cookie is ``lang``."""
    # bypass_csp: axe is injected as a script tag, which a strict Content-Security-Policy refuses.
    context = chromium.new_context(locale="es-PE", bypass_csp=True, **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_cookies([{"name": "django_language", "value": lang, "url": base_url}])
    return context.new_page()


def login(page, base_url: str, username: str, device=None, check=None) -> None:
    """Log in through the login page; officials (``device`` given) then type a real TOTP code
    on the second-factor page, which ``check`` (the axe check) sees on the way."""
    page.goto(f"{base_url}/ingresar/")
    page.fill("#field-username", username)
    page.fill("#field-password", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    if device is not None:
        if check is not None:
            check(page, "second factor")
        page.fill("#field-code", totp_code(device, refresh=False))
        with page.expect_navigation():
            page.click("main button[type=submit]")


def axe_violations(page) -> list[str]:
    """axe-core's WCAG 2.2 A/AA violations in ``page``, one readable line per failing node."""
    if not AXE.exists():
        pytest.fail(
            f"axe-core is not installed ({AXE} is missing): run `npm ci` at the repository root "
            "(`make install` does it)."
        )
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return result.violations.map(v => ({
                id: v.id, help: v.help, impact: v.impact,
                nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary})),
            }));
        }""",
        AXE_TAGS,
    )
    lines = []
    for violation in violations:
        for node in violation["nodes"]:
            summary = " ".join(node["summary"].split())[:300]
            lines.append(
                f"{violation['id']} ({violation['impact']}): {violation['help']} — "
                f"{node['target']} — {summary}"
            )
    return lines


def describe(failures: dict[str, list[str]]) -> str:
    return json.dumps(failures, ensure_ascii=False, indent=2)


def not_a_pdf() -> dict:
    return {"name": "plano.pdf", "mimeType": "application/pdf", "buffer": b"esto no es un PDF"}


def unsigned_pdf() -> dict:
    return {"name": "copia.pdf", "mimeType": "application/pdf", "buffer": MINIMAL_PDF}
