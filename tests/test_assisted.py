"""Issue 6, part 4: an intermediary files for a citizen who is present, with their consent."""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
import tempfile

import pytest
from django.test import Client, override_settings

from tambo.cases import actions, assisted
from tambo.cases.models import AssistedConsent, Draft, Filing
from tambo.cases.receipt import receipt_pdf
from tambo.catalog.models import OrgUnit
from tambo.core import clock
from tambo.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tambo.core.models import AuditEntry
from tambo.identity import actions as identity_actions
from tambo.identity import policy
from tambo.identity.models import Appointment
from tambo.inbox.sms import FileSender

from .conftest import PNG_1PX, answers_for, login_official, make_official, without_file_field

pytestmark = pytest.mark.django_db


@pytest.fixture
def sms_file(tmp_path):
    path = tmp_path / "sms.jsonl"
    with override_settings(TAMBO_SMS_FILE=path, TAMBO_SMS_BACKEND="tambo.inbox.sms.FileSender"):
        yield FileSender(path)


@pytest.fixture
def intermediary(catalog):
    return make_official("tambo_ana", "MDSI", ["intermediary"], ["MP"])


@pytest.fixture
def helper(intermediary) -> Client:
    return login_official(Client(), intermediary)


@pytest.fixture
def present(citizen):
    identity_actions.set_phone(citizen, "987654321")
    return citizen


def last_code(sms_file: FileSender) -> str:
    return re.search(r"\b(\d{6})\b", sms_file.sent()[-1]["text"]).group(1)


def pdf_text(data: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(data)
        handle.flush()
        done = subprocess.run(["pdftotext", handle.name, "-"], capture_output=True, check=True)
    return done.stdout.decode()


def test_filing_for_a_citizen_with_an_sms_code_records_who_filed_for_whom(
    helper, intermediary, present, catalog, sms_file, django_capture_on_commit_callbacks
):
    proc = without_file_field(catalog)
    page = helper.get(f"/tramites/{proc.agency.code}/{proc.code}/").content.decode()
    assert f"/asistido/{proc.agency.code}/{proc.code}/" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = helper.post(
            f"/asistido/{proc.agency.code}/{proc.code}/",
            {"document_type": "dni", "document_number": present.document_number, "method": "sms"},
        )
    assert response.status_code == 302
    consent = AssistedConsent.objects.get()
    code = last_code(sms_file)
    # The SMS goes to the citizen's own phone, and carries no personal data.
    assert sms_file.sent()[-1]["to"] == present.phone
    assert present.first_name not in sms_file.sent()[-1]["text"]
    # Only a keyed hash of the code is kept.
    assert consent.code_hash and code not in consent.code_hash and len(consent.code_hash) == 64
    wrong = "000000" if code != "000000" else "111111"
    refused = helper.post(response["Location"], {"code": wrong})
    assert refused.status_code == 422 and "4" in refused.content.decode()
    accepted = helper.post(response["Location"], {"code": code})
    assert accepted.status_code == 302 and "/borradores/" in accepted["Location"]
    draft_id = accepted["Location"].split("/")[2]
    actions.save_answers(intermediary, draft_id, answers_for(proc))
    filed = helper.post(f"/borradores/{draft_id}/revisar/")
    assert filed.status_code == 302
    filing = Filing.objects.get()
    assert filing.citizen == present and filing.filed_by == intermediary
    assert filing.consent == consent
    # The receipt, on screen and in the PDF, says who filed it for whom.
    screen = helper.get(f"/expedientes/{filing.number}/cargo/").content.decode()
    assert "Presentado por" in screen and intermediary.display_name in screen
    assert present.document_number in screen
    text = pdf_text(receipt_pdf(filing))
    assert intermediary.display_name in text and "Presentado por" in text
    entry = AuditEntry.objects.get(action="filing.submitted")
    assert entry.actor_id == intermediary.pk
    assert entry.data["on_behalf_of"] == f"dni:{present.document_number}"
    assert entry.data["filed_by"] == intermediary.username
    assert entry.data["consent"]["method"] == "sms"
    assert AuditEntry.objects.filter(action="assisted.code_rejected").count() == 1
    assert AuditEntry.objects.filter(action="assisted.consent_granted").count() == 1
    # The citizen sees it in their own account; the intermediary sees it in theirs.
    citizen_browser = Client()
    citizen_browser.force_login(present)
    assert filing.number in citizen_browser.get("/mis-expedientes/").content.decode()
    assert filing.number in helper.get("/asistido/").content.decode()


def test_paper_consent_with_a_scanned_form(helper, intermediary, present, catalog):
    proc = without_file_field(catalog)
    url = f"/asistido/{proc.agency.code}/{proc.code}/"
    form = {"document_type": "dni", "document_number": present.document_number, "method": "paper"}
    missing = helper.post(url, form)
    assert missing.status_code == 422 and AssistedConsent.objects.count() == 0
    not_an_image = io.BytesIO(b"just text, not a scan")
    not_an_image.name = "consent.png"
    assert helper.post(url, {**form, "scan": not_an_image}).status_code == 422
    scan = io.BytesIO(PNG_1PX)
    scan.name = "consent.png"
    response = helper.post(url, {**form, "scan": scan})
    assert response.status_code == 302 and "/borradores/" in response["Location"]
    consent = AssistedConsent.objects.get()
    assert consent.method == "paper" and consent.granted_at is not None
    assert len(consent.scan_sha256) == 64 and consent.scan.name


def test_no_consent_no_draft(intermediary, present, catalog, sms_file):
    proc = without_file_field(catalog)
    consent = assisted.request_consent(
        intermediary,
        proc,
        document_type="dni",
        document_number=present.document_number,
        method="sms",
    )
    with pytest.raises(Conflict) as refused:
        assisted.start_assisted_draft(intermediary, consent.pk)
    assert refused.value.code == "consent_missing"


def test_unknown_citizen_or_missing_contact_is_refused(intermediary, citizen, catalog):
    proc = without_file_field(catalog)
    with pytest.raises(ValidationFailed) as unknown:
        assisted.request_consent(
            intermediary, proc, document_type="dni", document_number="99999999", method="email"
        )
    assert "document_number" in unknown.value.errors
    with pytest.raises(ValidationFailed) as no_phone:
        assisted.request_consent(
            intermediary,
            proc,
            document_type="dni",
            document_number=citizen.document_number,
            method="sms",
        )
    assert "method" in no_phone.value.errors


def test_an_expired_code_and_too_many_attempts_are_refused(
    intermediary, present, catalog, sms_file, django_capture_on_commit_callbacks
):
    proc = without_file_field(catalog)
    start = clock.now()
    with clock.frozen(start), django_capture_on_commit_callbacks(execute=True):
        consent = assisted.request_consent(
            intermediary,
            proc,
            document_type="dni",
            document_number=present.document_number,
            method="sms",
        )
    code = last_code(sms_file)
    with clock.frozen(start + dt.timedelta(minutes=assisted.CODE_MINUTES + 1)):
        with pytest.raises(ValidationFailed) as expired:
            assisted.confirm_code(intermediary, consent.pk, code)
        assert "venció" in expired.value.errors["code"]
    with clock.frozen(start + dt.timedelta(minutes=1)):
        for _ in range(assisted.MAX_ATTEMPTS):
            with pytest.raises(ValidationFailed):
                assisted.confirm_code(intermediary, consent.pk, "12345x")
        with pytest.raises(ValidationFailed) as blocked:
            assisted.confirm_code(intermediary, consent.pk, code)
        assert "Demasiados" in blocked.value.errors["code"]
    consent.refresh_from_db()
    assert consent.granted_at is None and consent.attempts == assisted.MAX_ATTEMPTS


def test_the_intermediary_cannot_open_the_citizens_other_cases(
    helper, intermediary, present, other_citizen, catalog
):
    proc = without_file_field(catalog)
    own = actions.file_directly(present, proc, answers_for(proc)).filing
    for url in (
        f"/expedientes/{own.number}/",
        f"/expedientes/{own.number}/cargo/",
        f"/expedientes/{own.number}/cargo.pdf",
    ):
        assert helper.get(url).status_code == 404
    # Another intermediary's consent is not theirs either.
    other = make_official("tambo_luis", "MDSI", ["intermediary"], ["MP"])
    scan = io.BytesIO(PNG_1PX)
    consent = assisted.request_consent(
        other,
        proc,
        document_type="dni",
        document_number=present.document_number,
        method="paper",
        scan=scan,
    )
    with pytest.raises(NotFound):
        assisted.start_assisted_draft(intermediary, consent.pk)
    assert helper.get(f"/asistido/consentimiento/{consent.pk}/").status_code == 404
    # Nor the office queues of the unit they sit in.
    assert "/oficina/" not in helper.get("/").content.decode()
    assert helper.get("/oficina/").status_code == 404


def test_the_policy_answers_on_a_consent_for_who_took_it_at_that_desk(
    helper, intermediary, present, catalog
):
    """``assisted.consent`` is the decision: the intermediary who took the consent, while they
    hold the intermediary appointment at its unit. The citizen named on it and the agency's
    officials are told it does not exist; its intermediary, after leaving that desk, is told
    no (403) on the web and in the actions."""
    proc = without_file_field(catalog)
    consent = assisted.request_consent(
        intermediary,
        proc,
        document_type="dni",
        document_number=present.document_number,
        method="paper",
        scan=io.BytesIO(PNG_1PX),
    )
    assert policy.allows(intermediary, "assisted.consent", consent)
    assert not policy.allows(intermediary, "assisted.enrolment", consent)
    desk = make_official("mp_desk", "MDSI", ["front_desk"], ["MP"])
    for someone_else in (present, desk):
        with pytest.raises(NotFound):
            policy.require(someone_else, "assisted.consent", consent)
    Appointment.objects.filter(user=intermediary).update(active=False)
    Appointment.objects.create(
        user=intermediary,
        unit=OrgUnit.objects.get(agency__code="MDSI", code="RC"),
        role="intermediary",
    )
    policy.forget(intermediary)
    with pytest.raises(Forbidden):
        assisted.start_assisted_draft(intermediary, consent.pk)
    assert helper.get(f"/asistido/consentimiento/{consent.pk}/").status_code == 403
    assert helper.post(f"/asistido/consentimiento/{consent.pk}/borrador/").status_code == 403
    assert not Draft.objects.filter(consent=consent).exists()


def test_an_official_who_is_also_an_intermediary_gets_no_intermediary_queue(catalog):
    from tambo.cases import office_queries
    from tambo.identity.models import Appointment

    official = make_official("doble", "MDSI", ["front_desk"], ["MP"])
    unit = official.appointments.get().unit
    Appointment.objects.create(user=official, unit=unit, role="intermediary")
    assert [q.role for q in office_queries.my_queues(official)] == ["front_desk"]
    client = login_official(Client(), official)
    assert client.get("/oficina/").status_code == 200


def test_only_intermediaries_reach_the_assisted_pages(web, catalog):
    proc = without_file_field(catalog)
    assert web.get("/asistido/").status_code == 404
    assert web.get(f"/asistido/{proc.agency.code}/{proc.code}/").status_code == 404
