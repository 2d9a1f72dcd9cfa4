"""Issue 6: the citizen's language (remembered, used for notices, e-mail, SMS and PDFs) and SMS."""

from __future__ import annotations

import html
import json
import subprocess
import tempfile

import pytest
from django.conf import settings
from django.core import mail
from django.db import transaction
from django.test import Client, override_settings
from django.utils import translation

from tambo.cases import actions, sweep, transitions
from tambo.cases.receipt import receipt_pdf
from tambo.catalog.texts import localize
from tambo.core import clock
from tambo.core.errors import ValidationFailed
from tambo.core.models import AuditEntry
from tambo.documents.models import IssuedDocument
from tambo.identity import actions as identity_actions
from tambo.identity.language import language_of, normalize
from tambo.identity.phones import normalize_mobile
from tambo.inbox.actions import deposit
from tambo.inbox.models import Notice
from tambo.inbox.sms import FileSender, SmsError, send_sms

from .conftest import answers_for, make_official, pdf_upload, procedure, without_file_field
from .test_notice_copies import run_queued_copies

pytestmark = pytest.mark.django_db
T = transitions.TransitionInput


@pytest.fixture(autouse=True)
def keep_language():
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def sms_file(tmp_path):
    path = tmp_path / "sms.jsonl"
    with override_settings(TAMBO_SMS_FILE=path, TAMBO_SMS_BACKEND="tambo.inbox.sms.FileSender"):
        yield FileSender(path)


def pdf_text(data: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(data)
        handle.flush()
        out = subprocess.run(
            ["pdftotext", "-layout", handle.name, "-"], capture_output=True, check=True
        )
    return out.stdout.decode()


def file_licence(citizen):
    proc = procedure("LF-RIESGO-BAJO", "MDSI")
    draft = actions.start_draft(citizen, proc.current_version)
    actions.save_answers(citizen, draft.pk, answers_for(proc))
    for field in proc.current_version.file.form:
        if field.type == "file":
            actions.attach_document(citizen, draft.pk, field.name, pdf_upload(), "doc.pdf")
    return actions.submit_draft(citizen, draft.pk).filing


# --- Remembered language ---------------------------------------------------------------


def test_the_switch_saves_the_language_and_the_next_sign_in_uses_it(citizen, catalog):
    browser = Client()
    browser.force_login(citizen)
    response = browser.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    citizen.refresh_from_db()
    assert citizen.language == "en"
    assert AuditEntry.objects.filter(action="user.language_set").count() == 1
    # A new device, no language cookie: the account's language applies.
    other_device = Client()
    other_device.force_login(citizen)
    page = other_device.get("/").content.decode()
    assert '<html lang="en">' in page
    assert "Skip to main content" in page


def test_an_invalid_language_code_changes_nothing_and_a_bad_stored_code_reads_as_spanish(
    citizen, catalog
):
    browser = Client()
    browser.force_login(citizen)
    browser.post("/i18n/setlang/", {"language": "xx", "next": "/"})
    citizen.refresh_from_db()
    assert citizen.language == ""  # never chose: notices use Spanish
    assert language_of(citizen) == "es"
    assert normalize("xx") == "es" and normalize("EN-us") == "en" and normalize(None) == "es"
    citizen.language = "zz"
    citizen.save()
    assert language_of(citizen) == "es"
    assert '<html lang="es">' in browser.get("/").content.decode()


def test_a_missing_procedure_translation_falls_back_to_spanish(catalog):
    assert localize({"es": "Hola", "en": "Hello"}, "qu") == "Hola"
    assert localize({"es": "Hola", "en": "Hello"}, "en") == "Hello"
    proc = procedure("RADIOAFICIONADO", "MTC")
    name = proc.current_version.file.name
    browser = Client()
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "qu"
    page = html.unescape(browser.get(f"/tramites/MTC/{proc.code}/").content.decode())
    expected = name.get("qu") if isinstance(name, dict) and name.get("qu") else localize(name, "es")
    assert expected in page
    # Texts with no Quechua version (the legal basis is Spanish only) are shown in Spanish.
    assert proc.current_version.file.legal_basis[0] in page
    assert "tramite." not in page  # never a message id


# --- Notices, e-mail, PDFs in the citizen's language -------------------------------------


def test_notice_email_and_resolution_are_in_the_citizens_language(
    citizen, catalog, django_capture_on_commit_callbacks
):
    identity_actions.set_language(citizen, "en")
    desk = make_official("mesa", "MDSI", ["front_desk"], ["MP"])
    evaluator = make_official("eva", "MDSI", ["evaluator"])
    signer = make_official("firma", "MDSI", ["signer"])
    filing = file_licence(citizen)
    # The officials work in Spanish; the citizen reads English.
    translation.activate("es")
    transitions.take(desk, filing.number, "admit", T())
    transitions.take(evaluator, filing.number, "propose", T(report="Cumple."))
    with django_capture_on_commit_callbacks(execute=True):
        transitions.take(signer, filing.number, "approve", T(reason="Cumple los requisitos."))
    assert translation.get_language() == "es"
    notice = Notice.objects.get(filing=filing)
    assert "Approved" in notice.title or "approved" in notice.title.lower()
    assert "You have a new notice" in mail.outbox[-1].body
    document = IssuedDocument.objects.get(subject_id=filing.number, kind="resolution")
    assert document.title.startswith("Resolution")
    with document.file.open("rb") as handle:
        text = pdf_text(handle.read())
    assert "Resolution" in text
    assert document.public_fields["tipo"] == "Resolución"  # the public register stays Spanish


def test_the_receipt_pdf_is_in_the_citizens_language_whoever_downloads_it(citizen, catalog):
    identity_actions.set_language(citizen, "en")
    proc = without_file_field(catalog)
    filing = actions.file_directly(citizen, proc, answers_for(proc)).filing
    translation.activate("es")
    text = pdf_text(receipt_pdf(filing))
    assert "Filing receipt" in text or "Receipt" in text
    assert "Cargo de recepción" not in text
    document = IssuedDocument.objects.get(subject_id=filing.number, kind="receipt")
    assert document.public_fields["tipo"] == "Cargo de recepción"


def test_sweep_notices_go_out_in_each_citizens_language(
    citizen, other_citizen, catalog, sms_file, django_capture_on_commit_callbacks
):
    identity_actions.set_language(other_citizen, "en")
    citizen.email = ""
    citizen.save()
    identity_actions.set_phone(citizen, "987654321")
    proc = procedure("ACCESO-INFORMACION", "MDSI")
    with clock.frozen(clock.now().replace(year=2026, month=3, day=2, hour=15)):
        spanish = actions.file_directly(citizen, proc, answers_for(proc)).filing
        english = actions.file_directly(other_citizen, proc, answers_for(proc)).filing
    day = max(spanish.silence_on, english.silence_on)
    on_day = clock.now().replace(year=day.year, month=day.month, day=day.day, hour=15)
    with clock.frozen(on_day), django_capture_on_commit_callbacks(execute=True):
        assert sweep.run().counts["negative_silence"] == 2
    # The copies go out from the task the sweep queued with its batch (tambo db_worker).
    assert mail.outbox == [] and sms_file.sent() == []
    run_queued_copies()
    es_notice = Notice.objects.get(filing=spanish, kind="negative_silence")
    en_notice = Notice.objects.get(filing=english, kind="negative_silence")
    assert "silencio administrativo negativo" in es_notice.title
    assert "negative" in en_notice.title.lower() and "silencio" not in en_notice.title
    assert "appeal" in en_notice.body.lower()
    # Their copies: the English reader by e-mail in English, the other by SMS (no e-mail).
    assert [m.to for m in mail.outbox] == [[other_citizen.email]]
    assert "You have a new notice" in mail.outbox[0].body
    sent = sms_file.sent()
    assert len(sent) == 1 and spanish.number in sent[0]["text"]
    assert sent[0]["to"] == "+51987654321"


# --- SMS ---------------------------------------------------------------------------------


def test_peruvian_mobile_numbers_are_validated():
    assert normalize_mobile("987 654 321") == "+51987654321"
    assert normalize_mobile("+51 987-654-321") == "+51987654321"
    for bad in ("12345", "887654321", "+1 987654321", "9876543210"):
        with pytest.raises(ValidationFailed):
            normalize_mobile(bad)


def test_a_citizen_without_email_gets_the_notice_by_sms_with_no_personal_data(
    citizen, catalog, sms_file, django_capture_on_commit_callbacks
):
    citizen.email = ""
    citizen.save()
    identity_actions.set_phone(citizen, "987654321")
    filing = file_licence(citizen)
    desk = make_official("mesa", "MDSI", ["front_desk"], ["MP"])
    with django_capture_on_commit_callbacks(execute=True):
        transitions.take(desk, filing.number, "observe", T(reason="Falta el plano firmado."))
    sent = sms_file.sent()
    assert len(sent) == 1
    assert sent[0]["to"] == "+51987654321"
    text = sent[0]["text"]
    assert filing.number in text and "/casilla/" in text
    answers = [str(v) for v in filing.answers.values() if len(str(v)) > 3]
    for private in [citizen.first_name, citizen.last_name, citizen.document_number, *answers]:
        assert private not in text
    assert "Falta el plano" not in text
    assert Notice.objects.get(filing=filing).texted_at is not None
    assert mail.outbox == []


def test_sms_in_the_citizens_language_and_only_when_wanted(
    citizen, catalog, sms_file, django_capture_on_commit_callbacks
):
    identity_actions.set_phone(citizen, "987654321")
    filing = file_licence(citizen)
    desk = make_official("mesa", "MDSI", ["front_desk"], ["MP"])
    with django_capture_on_commit_callbacks(execute=True):
        transitions.take(desk, filing.number, "observe", T(reason="Falta."))
    assert sms_file.sent() == []  # has e-mail and did not opt in
    citizen.sms_notices = True
    citizen.language = "en"
    citizen.save()
    filing.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        deposit(filing, kind="observe", title="t", body="b")
    sent = sms_file.sent()
    assert len(sent) == 1 and "new notice" in sent[0]["text"]


def test_the_sender_reports_whether_to_retry(tmp_path):
    with pytest.raises(SmsError) as refused:
        send_sms("12345", "hola")
    assert refused.value.retry is False
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    with pytest.raises(SmsError) as failed:
        FileSender(blocked / "sms.jsonl").send("+51987654321", "hola")
    assert failed.value.retry is True
    path = tmp_path / "ok.jsonl"
    FileSender(path).send("+51987654321", "hola")
    assert json.loads(path.read_text())["text"] == "hola"


def test_the_account_page_saves_a_valid_mobile_and_refuses_a_bad_one(web, citizen, catalog):
    bad = web.post("/cuenta/", {"phone": "12345", "sms_notices": "1"})
    assert bad.status_code == 422 and "celular peruano" in bad.content.decode()
    citizen.refresh_from_db()
    assert citizen.phone == "" and not citizen.sms_notices
    good = web.post("/cuenta/", {"phone": "987 654 321", "sms_notices": "1"})
    assert good.status_code == 302
    citizen.refresh_from_db()
    assert citizen.phone == "+51987654321" and citizen.sms_notices
    assert AuditEntry.objects.filter(action="user.phone_set").count() == 1
