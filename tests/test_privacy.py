"""Personal data: who read my data (access log, legal reserve), my copy, corrections,
consent and retention (Ley 29733, DS 016-2024-JUS)."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from tambo.cases import actions
from tambo.cases.models import ANSWERS_REMOVED_KEY, Document, Draft, Filing, answers_removed
from tambo.core import audit, clock
from tambo.core.errors import Forbidden, ValidationFailed
from tambo.core.models import AuditEntry
from tambo.identity import policy
from tambo.privacy import actions as privacy_actions
from tambo.privacy.access import record_access, record_filing_access
from tambo.privacy.models import AccessEntry, Consent, CorrectionRequest
from tambo.privacy.retention import apply_retention

from .conftest import (
    answers_for,
    make_official,
    official_client,
    pdf_upload,
    procedure,
    token_client,
)
from .test_backoffice import at, file_case, take

pytestmark = pytest.mark.django_db


@pytest.fixture
def licence(catalog):
    return procedure("LF-RIESGO-BAJO", "MDSI")


@pytest.fixture
def staff(catalog):
    return {
        "desk": make_official("mesa", "MDSI", ["front_desk"], ["MP"]),
        "evaluator": make_official("eva", "MDSI", ["evaluator"]),
        "signer": make_official("firma", "MDSI", ["signer"]),
        "supervisor": make_official("super", "MDSI", ["supervisor"]),
    }


@pytest.fixture
def case(citizen, licence):
    return file_case(citizen, licence)


def logged_in(user) -> Client:
    """Citizens by session; officials as they really log in (password and TOTP code)."""
    if policy.needs_second_factor(user):
        return official_client(user)
    client = Client()
    client.force_login(user)
    return client


def entries(citizen) -> list[AccessEntry]:
    return list(AccessEntry.objects.filter(citizen=citizen).order_by("pk"))


# --- Every official route that shows the citizen's data records an access ----------------


def _routes(filing, staff):
    upload = Document.objects.filter(filing=filing).first()
    return [
        ("office case page", "web", f"/oficina/expedientes/{filing.number}/", "filing"),
        ("office API detail", "api", f"/api/v1/office/filings/{filing.number}", "filing"),
        (
            "office upload download",
            "web",
            f"/oficina/expedientes/{filing.number}/archivos/{upload.pk}/",
            "document",
        ),
        ("citizen page opened by an official", "web", f"/expedientes/{filing.number}/", "filing"),
        ("receipt page", "web", f"/expedientes/{filing.number}/cargo/", "filing"),
        ("receipt PDF", "web", f"/expedientes/{filing.number}/cargo.pdf", "receipt"),
        ("API filing detail", "api", f"/api/v1/filings/{filing.number}", "filing"),
        ("API receipt", "api", f"/api/v1/filings/{filing.number}/receipt.pdf", "receipt"),
    ]


def test_each_official_route_records_one_access_with_who_agency_what_and_purpose(
    citizen, staff, case
):
    official = staff["evaluator"]
    web, api = logged_in(official), token_client(official)
    for name, kind, url, category in _routes(case, staff):
        before = AccessEntry.objects.count()
        response = (web if kind == "web" else api).get(url)
        assert response.status_code == 200, name
        if response.streaming:  # read to the end: the test client then closes the file
            b"".join(response.streaming_content)
        new = list(AccessEntry.objects.order_by("pk")[before:])
        assert len(new) == 1, name
        entry = new[0]
        assert (entry.citizen_id, entry.accessor_id, entry.category) == (
            citizen.pk,
            official.pk,
            category,
        ), name
        assert entry.agency_code == "MDSI" and entry.agency_name
        assert entry.filing_number == case.number
        assert entry.purpose and entry.legal_basis
        assert "eva" in entry.accessor_label
    assert AccessEntry.objects.get(category="document").detail == "doc.pdf"
    # Each access is also in the audit chain.
    assert AuditEntry.objects.filter(action="privacy.access", actor_id=official.pk).count() == 8


def test_an_issued_document_download_by_an_official_is_recorded(citizen, staff, case):
    take(staff["desk"], case, "admit")
    take(staff["evaluator"], case, "propose", report="Cumple.")
    take(staff["signer"], case, "approve", reason="Cumple los requisitos.")
    code = case.number
    from tambo.documents.models import IssuedDocument

    resolution = IssuedDocument.objects.get(subject_id=code, kind="resolution")
    response = logged_in(staff["desk"]).get(f"/expedientes/{code}/documentos/{resolution.code}.pdf")
    assert response.status_code == 200
    entry = AccessEntry.objects.get(category="issued_document")
    assert entry.accessor_id == staff["desk"].pk and entry.detail == resolution.title


def test_office_actions_through_the_api_record_the_detail_they_answer(citizen, staff, case):
    api = token_client(staff["supervisor"])
    response = api.post(
        f"/api/v1/office/filings/{case.number}/assign",
        {"assignee": "eva", "reason": "Reparto"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert [e.accessor_id for e in entries(citizen)] == [staff["supervisor"].pk]


def test_the_citizen_reading_their_own_data_records_nothing(citizen, web, api, case):
    for url in [
        f"/expedientes/{case.number}/",
        f"/expedientes/{case.number}/cargo/",
        f"/expedientes/{case.number}/cargo.pdf",
        "/cuenta/accesos/",
    ]:
        assert web.get(url).status_code == 200, url
    assert api.get(f"/api/v1/filings/{case.number}").status_code == 200
    assert api.get(f"/api/v1/filings/{case.number}/receipt.pdf").status_code == 200
    assert AccessEntry.objects.count() == 0


def test_officials_of_another_agency_and_other_citizens_get_404_and_record_nothing(
    citizen, other_citizen, case, catalog
):
    outsider = make_official("ajeno", "MTC", ["evaluator", "supervisor"])
    assert logged_in(outsider).get(f"/oficina/expedientes/{case.number}/").status_code == 404
    assert token_client(outsider).get(f"/api/v1/office/filings/{case.number}").status_code == 404
    assert logged_in(other_citizen).get(f"/expedientes/{case.number}/").status_code == 404
    assert AccessEntry.objects.count() == 0


# --- The citizen's view: page and API, keyset pagination, isolation ---------------------


def test_the_citizen_sees_who_read_their_data_on_the_page_and_in_the_api(
    citizen, other_citizen, staff, case, web, api, other_api
):
    with clock.frozen(at("2026-03-03", 9)):
        logged_in(staff["desk"]).get(f"/oficina/expedientes/{case.number}/")
    with clock.frozen(at("2026-03-04", 11)):
        upload = Document.objects.filter(filing=case).first()
        download = logged_in(staff["evaluator"]).get(
            f"/oficina/expedientes/{case.number}/archivos/{upload.pk}/"
        )
        assert b"".join(download.streaming_content).startswith(b"%PDF")
    page = web.get("/cuenta/accesos/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Quién vio mis datos" in html
    assert "Mesa Oficial (mesa)" in html and "Eva Oficial (eva)" in html
    assert "2026-03-04 11:00" in html and "doc.pdf" in html and case.number in html
    assert html.index("Eva Oficial") < html.index("Mesa Oficial")  # newest first
    body = api.get("/api/v1/me/accesses").json()
    assert [i["who"] for i in body["items"]] == ["Eva Oficial (eva)", "Mesa Oficial (mesa)"]
    assert body["items"][0]["category"] == "document"
    assert body["items"][0]["agency"] == "MDSI"
    # Someone else's log is not theirs to see.
    assert other_api.get("/api/v1/me/accesses").json()["items"] == []
    assert "Eva Oficial" not in logged_in(other_citizen).get("/cuenta/accesos/").content.decode()
    assert Client().get("/api/v1/me/accesses").status_code == 401
    # The account page links to it and to the copy of the data.
    account = web.get("/cuenta/").content.decode()
    assert "/cuenta/accesos/" in account and "/cuenta/datos/" in account
    assert "/cuenta/accesos/" in web.get("/cuenta/datos/").content.decode()


def test_the_access_log_is_paginated_by_key_and_rejects_a_bad_cursor(citizen, staff, case, api):
    start = at("2026-03-03", 8)
    for minute in range(7):
        with clock.frozen(start + dt.timedelta(minutes=minute // 2)):  # ties on `at`
            record_filing_access(staff["evaluator"], case, [("filing", "")])
    seen, cursor = [], None
    from tambo.privacy import queries

    while True:
        rows, cursor = queries.access_page(
            citizen, queries.parse_cursor(cursor) if cursor else None, limit=3
        )
        seen += [r.pk for r in rows]
        if cursor is None:
            break
    assert seen == list(AccessEntry.objects.order_by("-at", "-pk").values_list("pk", flat=True))
    first = api.get("/api/v1/me/accesses").json()
    assert len(first["items"]) == 7 and first["next"] is None
    bad = api.get("/api/v1/me/accesses?before=nonsense")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cursor"


# --- Legal reserve ------------------------------------------------------------------------


def test_a_reserve_withholds_the_entries_until_it_ends_and_the_withholding_is_recorded(
    citizen, staff, case, api
):
    supervisor = staff["supervisor"]
    with clock.frozen(at("2026-03-03")):
        record_filing_access(staff["desk"], case, [("filing", "")])  # before the reserve
        privacy_actions.place_reserve(
            supervisor, case.number, dt.date(2026, 3, 20), "Investigación en curso (art. X)"
        )
        case.refresh_from_db()
        record_filing_access(staff["evaluator"], case, [("filing", "")])
        assert [e["who"] for e in api.get("/api/v1/me/accesses").json()["items"]] == [
            "Mesa Oficial (mesa)"
        ]
        assert "Eva Oficial" not in logged_in(citizen).get("/cuenta/accesos/").content.decode()
    withheld = AccessEntry.objects.get(accessor=staff["evaluator"])
    assert withheld.withheld_until == dt.date(2026, 3, 20)
    # Oversight sees the withholding: in the audit entry of the access and of the reserve.
    access_audit = AuditEntry.objects.filter(
        action="privacy.access", actor_id=staff["evaluator"].pk
    ).get()
    assert access_audit.data["withheld_until"] == "2026-03-20"
    placed = audit.history("filing", case.number, {"filing.reserve_placed"})[0]
    assert placed.data["until"] == "2026-03-20" and placed.data["reason"]
    with clock.frozen(at("2026-03-20")):  # last day of the reserve
        assert len(api.get("/api/v1/me/accesses").json()["items"]) == 1
    with clock.frozen(at("2026-03-21")):  # the reserve has ended: everything shows
        assert len(api.get("/api/v1/me/accesses").json()["items"]) == 2


def test_lifting_the_reserve_early_reveals_what_it_withheld(citizen, staff, case, api):
    with clock.frozen(at("2026-03-03")):
        privacy_actions.place_reserve(staff["supervisor"], case.number, dt.date(2026, 6, 1), "X")
        case.refresh_from_db()
        record_filing_access(staff["evaluator"], case, [("filing", "")])
        record_filing_access(staff["signer"], case, [("filing", "")])
        assert api.get("/api/v1/me/accesses").json()["items"] == []
    with clock.frozen(at("2026-03-05")):
        privacy_actions.place_reserve(staff["supervisor"], case.number, None, "Terminó")
        assert len(api.get("/api/v1/me/accesses").json()["items"]) == 2
    lifted = audit.history("filing", case.number, {"filing.reserve_lifted"})[0]
    assert lifted.data["access_entries_moved"] == 2


def test_only_a_supervisor_of_the_case_places_a_reserve_with_valid_input(citizen, staff, case):
    with clock.frozen(at("2026-03-03")):
        with pytest.raises(Forbidden):
            privacy_actions.place_reserve(staff["evaluator"], case.number, dt.date(2026, 4, 1), "x")
        with pytest.raises(ValidationFailed) as refused:
            privacy_actions.place_reserve(staff["supervisor"], case.number, dt.date(2026, 3, 1), "")
        assert set(refused.value.errors) == {"until", "reason"}
    assert Filing.objects.get(pk=case.pk).reserved_until is None


def test_the_reserve_form_on_the_office_case_page(citizen, staff, case):
    supervisor = logged_in(staff["supervisor"])
    page = supervisor.get(f"/oficina/expedientes/{case.number}/").content.decode()
    assert "Reserva legal" in page
    assert (
        "Reserva legal"
        not in logged_in(staff["evaluator"])
        .get(f"/oficina/expedientes/{case.number}/")
        .content.decode()
    )
    url = f"/oficina/expedientes/{case.number}/reserva/"
    bad = supervisor.post(url, {"until": "mañana", "reserve_reason": "x"})
    assert bad.status_code == 422 and "AAAA-MM-DD" in bad.content.decode()
    until = (clock.local_now().date() + dt.timedelta(days=30)).isoformat()
    ok = supervisor.post(url, {"until": until, "reserve_reason": "Ley 27806, art. 17"})
    assert ok.status_code == 302
    assert Filing.objects.get(pk=case.pk).reserved_until.isoformat() == until
    assert (
        logged_in(staff["evaluator"]).post(url, {"until": until, "reserve_reason": "x"}).status_code
        == 403
    )


# --- Cheap recording ---------------------------------------------------------------------


def test_recording_an_access_is_one_statement_on_postgresql(
    citizen, staff, case, django_assert_num_queries
):
    if connection.vendor != "postgresql":
        pytest.skip("the single-statement path is PostgreSQL's (this test runs in that pass)")
    with django_assert_num_queries(1):
        written = record_filing_access(
            staff["evaluator"], case, [("document", "a.pdf"), ("document", "b.pdf")]
        )
    assert written == 2
    assert AuditEntry.objects.filter(action="privacy.access").count() == 1


def test_another_agency_through_the_exchange_names_itself_and_its_legal_basis(citizen):
    written = record_access(
        None,
        citizen.pk,
        [("personal_data", "domicilio")],
        agency_code="RENIEC",
        agency_name="Registro Nacional de Identificación y Estado Civil",
        purpose="verificación de identidad",
        legal_basis="DL 1246, art. 2",
        accessor_label="RENIEC (interoperabilidad)",
    )
    assert written == 1
    entry = AccessEntry.objects.get()
    assert (entry.accessor_id, entry.accessor_label, entry.legal_basis) == (
        None,
        "RENIEC (interoperabilidad)",
        "DL 1246, art. 2",
    )
    with pytest.raises(ValueError):
        record_access(
            None, citizen.pk, [("gossip", "")], agency_code="X", agency_name="X", purpose="x"
        )


# --- Copy of my data ---------------------------------------------------------------------


def test_the_citizen_downloads_a_zip_with_data_json_and_their_documents(
    citizen, staff, case, web, api
):
    logged_in(staff["evaluator"]).get(f"/oficina/expedientes/{case.number}/")
    with clock.frozen(at("2026-03-03")):
        privacy_actions.request_correction(citizen, "Mi segundo apellido es Quispe, no Prueba.")
    response = web.post("/cuenta/datos/descargar/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    data = json.loads(archive.read("data.json"))
    assert data["profile"]["document_number"] == citizen.document_number
    [filing] = data["filings"]
    assert filing["number"] == case.number and filing["answers"] == case.answers
    assert filing["timeline"][0]["event"] == "filing.submitted"
    document = filing["documents"][0]
    assert archive.read(document["file"]).startswith(b"%PDF")
    assert data["accesses"][0]["who"] == "Eva Oficial (eva)"
    assert data["correction_requests"][0]["status"] == "pending"
    assert AuditEntry.objects.filter(action="privacy.data_exported", actor_id=citizen.pk).exists()
    assert web.get("/cuenta/datos/descargar/").status_code == 405
    via_api = api.get("/api/v1/me/data.zip")
    assert via_api.status_code == 200
    assert (
        "data.json" in zipfile.ZipFile(io.BytesIO(b"".join(via_api.streaming_content))).namelist()
    )


def test_the_copy_leaves_out_entries_still_under_reserve(citizen, staff, case, web):
    with clock.frozen(at("2026-03-03")):
        privacy_actions.place_reserve(staff["supervisor"], case.number, dt.date(2026, 5, 1), "X")
        case.refresh_from_db()
        record_filing_access(staff["evaluator"], case, [("filing", "")])
        response = web.post("/cuenta/datos/descargar/")
    data = json.loads(
        zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).read("data.json")
    )
    assert data["accesses"] == []


# --- Correction requests -----------------------------------------------------------------


def test_a_correction_request_is_stored_audited_answered_and_its_status_shown(
    citizen, other_citizen, case, web, catalog
):
    short = web.post("/cuenta/datos/", {"text": "mal", "filing": ""})
    assert short.status_code == 422 and "Explique qué dato está mal" in short.content.decode()
    foreign = web.post("/cuenta/datos/", {"text": "Mi dirección es otra.", "filing": "MDSI-X"})
    assert foreign.status_code == 422
    ok = web.post(
        "/cuenta/datos/", {"text": "Mi dirección es Av. Arequipa 100.", "filing": case.number}
    )
    assert ok.status_code == 302
    request = CorrectionRequest.objects.get()
    assert (request.citizen_id, request.filing_number, request.status) == (
        citizen.pk,
        case.number,
        "pending",
    )
    assert AuditEntry.objects.filter(action="privacy.correction_requested").count() == 1
    assert "Pendiente" in web.get("/cuenta/datos/").content.decode()
    assert "Arequipa" not in logged_in(other_citizen).get("/cuenta/datos/").content.decode()
    with pytest.raises(Forbidden):
        privacy_actions.resolve_correction(citizen, request.pk, "done", "Hecho")
    officer = make_official("dpo", "MDSI", ["supervisor"])
    officer.is_staff = officer.is_superuser = True
    officer.save()
    admin = logged_in(officer)
    unanswered = admin.post(
        f"/admin/privacy/correctionrequest/{request.pk}/change/",
        {"status": "pending", "response": ""},
    )
    assert unanswered.status_code == 200 and "Escriba la respuesta" in unanswered.content.decode()
    response = admin.post(
        f"/admin/privacy/correctionrequest/{request.pk}/change/",
        {"status": "done", "response": "Corregimos su dirección."},
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert (request.status, request.resolved_by_id) == ("done", officer.pk)
    assert AuditEntry.objects.filter(action="privacy.correction_resolved").count() == 1
    page = web.get("/cuenta/datos/").content.decode()
    assert "Corregido" in page and "Corregimos su dirección." in page


# --- Consent -----------------------------------------------------------------------------


def test_a_procedure_that_needs_consent_shows_it_requires_it_and_stores_text_and_time(
    citizen, web, api, catalog
):
    marriage = procedure("MATRIMONIO-CIVIL", "MDSI")
    text = marriage.current_version.file.consent["es"]
    draft = actions.start_draft(citizen, marriage.current_version)
    actions.save_answers(citizen, draft.pk, answers_for(marriage))
    for field in marriage.current_version.file.form:
        if field.type == "file":
            actions.attach_document(citizen, draft.pk, field.name, pdf_upload(), "doc.pdf")
    review = web.get(f"/borradores/{draft.pk}/revisar/").content.decode()
    assert 'name="consent"' in review and "Autorizo a la Municipalidad" in review
    refused = web.post(f"/borradores/{draft.pk}/revisar/")
    assert refused.status_code == 422 and "debe aceptar" in refused.content.decode()
    assert not Filing.objects.exists()
    with clock.frozen(at("2026-03-02", 11)):
        filed = web.post(f"/borradores/{draft.pk}/revisar/", {"consent": "yes"})
    assert filed.status_code == 302
    consent = Consent.objects.get()
    assert consent.text == text and consent.given_at == at("2026-03-02", 11)
    filing = consent.filing
    assert (
        audit.history("filing", filing.number, {"filing.submitted"})[0].data["consent_sha256"]
        == consent.text_sha256
    )
    assert "Consentimiento que dio" in web.get(f"/expedientes/{filing.number}/").content.decode()
    # The API asks for it too.
    draft2 = actions.start_draft(citizen, marriage.current_version)
    actions.save_answers(citizen, draft2.pk, answers_for(marriage))
    for field in marriage.current_version.file.form:
        if field.type == "file":
            actions.attach_document(citizen, draft2.pk, field.name, pdf_upload(), "doc.pdf")
    missing = api.post(f"/api/v1/drafts/{draft2.pk}/submit")
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "consent"
    assert api.post(f"/api/v1/drafts/{draft2.pk}/submit?consent=true").status_code == 201


def test_a_procedure_without_consent_files_as_before(citizen, licence):
    file_case(citizen, licence)
    assert not Consent.objects.exists()


# --- Retention ---------------------------------------------------------------------------


def concluded_case(citizen, licence, staff, day="2026-03-02"):
    filing = file_case(citizen, licence, day)
    take(citizen, filing, "withdraw", when=day, reason="Ya no lo necesito.")
    return Filing.objects.get(pk=filing.pk)


def test_retention_dry_run_real_run_idempotent_and_audit_kept(
    citizen, licence, staff, capsys, django_capture_on_commit_callbacks
):
    old = concluded_case(citizen, licence, staff, "2026-03-02")
    recent = concluded_case(citizen, licence, staff, "2026-03-03")
    still_open = file_case(citizen, licence, "2026-03-02")
    years = licence.current_version.file.retention_years
    assert years == 10
    old_doc = Document.objects.get(filing=old)
    path = old_doc.file.path
    history_before = AuditEntry.objects.filter(object_id=old.number).count()
    # 10 years and one day after the first case concluded, the day the second one still runs.
    day = dt.date(2036, 3, 2).isoformat()
    call_command("retention", "--dry-run", f"--date={day}")
    assert "would remove 1 documents" in capsys.readouterr().out
    assert Document.objects.get(pk=old_doc.pk).file  # nothing changed
    with django_capture_on_commit_callbacks(execute=True):
        call_command("retention", f"--date={day}")
    assert "removed 1 documents" in capsys.readouterr().out
    old_doc.refresh_from_db()
    assert not old_doc.file and old_doc.sha256  # the row keeps what it was
    import os

    assert not os.path.exists(path)
    assert Document.objects.get(filing=recent).file
    assert Document.objects.get(filing=still_open).file
    assert Filing.objects.get(pk=old.pk).retention_applied_at is not None
    entries_after = AuditEntry.objects.filter(object_id=old.number)
    assert entries_after.count() == history_before + 1  # kept, plus one saying what went
    applied = entries_after.get(action="filing.retention_applied")
    assert applied.data["documents_removed"] == [str(old_doc.pk)]
    call_command("retention", f"--date={day}")
    assert "0 expedientes past retention" in capsys.readouterr().out
    assert AuditEntry.objects.filter(action="filing.retention_applied").count() == 1
    assert audit.verify_chain().ok
    # The official case page says the document was removed.
    page = logged_in(staff["supervisor"]).get(f"/oficina/expedientes/{old.number}/")
    assert "eliminado al vencer su plazo de conservación" in page.content.decode()


def test_retention_works_in_batches(citizen, licence, staff):
    cases = [concluded_case(citizen, licence, staff, "2026-03-02") for _ in range(3)]
    report = apply_retention(now=at("2040-01-01"), batch=2)
    assert report.cases == 3 and report.documents == 3
    assert sorted(report.numbers) == sorted(c.number for c in cases)


def test_retention_replaces_the_answers_by_a_tombstone_and_deletes_the_filed_draft(
    citizen, licence, staff
):
    old = concluded_case(citizen, licence, staff, "2026-03-02")
    answers = dict(old.answers)
    draft_id = old.draft_id
    assert answers and draft_id is not None
    report = apply_retention(now=at("2036-03-03"))
    assert (report.cases, report.answers) == (1, 1)
    old.refresh_from_db()
    assert answers_removed(old.answers) and set(old.answers) == {ANSWERS_REMOVED_KEY}
    assert old.answers[ANSWERS_REMOVED_KEY]["retention_years"] == 10
    assert not Draft.objects.filter(pk=draft_id).exists()  # it held a copy of the answers
    # What statistics and the audit log need stays on the expediente.
    assert (old.number, old.status, old.procedure_version_id) == (
        Filing.objects.get(pk=old.pk).number,
        "withdrawn",
        licence.current_version.pk,
    )
    applied = AuditEntry.objects.get(action="filing.retention_applied", object_id=old.number)
    assert applied.data["answers_removed"] == sorted(answers)
    assert not set(map(str, answers.values())) & set(map(str, applied.data.values()))
    # The case page shows the answers as removed, and none of their values.
    page = logged_in(staff["supervisor"]).get(f"/oficina/expedientes/{old.number}/")
    text = page.content.decode()
    assert text.count("eliminado al vencer su plazo de conservación") >= len(
        licence.current_version.file.form
    )
    shown = [v for v in answers.values() if isinstance(v, str) and len(v) > 3]
    assert shown and not any(value in text for value in shown)
    assert apply_retention(now=at("2036-03-03")).cases == 0  # idempotent
    assert audit.verify_chain().ok


def test_retention_catches_up_cases_whose_documents_went_before_answers_were_covered(
    citizen, licence, staff
):
    old = concluded_case(citizen, licence, staff, "2026-03-02")
    earlier = at("2036-03-03")
    Filing.objects.filter(pk=old.pk).update(retention_applied_at=earlier)  # older tambo
    report = apply_retention(now=at("2036-06-01"))
    assert report.answers == 1
    old.refresh_from_db()
    assert answers_removed(old.answers) and old.retention_applied_at == earlier
    assert apply_retention(now=at("2036-06-01")).answers == 0


def test_abandoned_drafts_are_deleted_after_their_retention_with_their_files(
    citizen, licence, django_capture_on_commit_callbacks, capsys
):
    days = licence.current_version.file.draft_retention_days
    assert days == 90
    version = licence.current_version
    field = next(f for f in version.file.form if f.type == "file")
    with clock.frozen(at("2026-03-02")):
        abandoned = [actions.start_draft(citizen, version) for _ in range(3)]
        actions.save_answers(citizen, abandoned[0].pk, answers_for(licence))
        actions.attach_document(citizen, abandoned[0].pk, field.name, pdf_upload(), "doc.pdf")
    path = Document.objects.get(draft=abandoned[0]).file.path
    with clock.frozen(at("2026-05-20")):
        recent = actions.start_draft(citizen, version)
    filed = file_case(citizen, licence, "2026-03-02")  # filed drafts are not abandoned
    after = at("2026-03-02") + dt.timedelta(days=days, hours=1)
    assert apply_retention(now=after, dry_run=True).drafts == 3
    assert Draft.objects.filter(pk__in=[d.pk for d in abandoned]).count() == 3
    with django_capture_on_commit_callbacks(execute=True):
        report = apply_retention(now=after, batch=2)
    assert (report.drafts, report.draft_documents) == (3, 1)
    assert not Draft.objects.filter(pk__in=[d.pk for d in abandoned]).exists()
    assert not Document.objects.filter(draft__isnull=True, filing__isnull=True).exists()
    import os

    assert not os.path.exists(path)
    assert Draft.objects.filter(pk=recent.pk).exists()
    assert Filing.objects.get(pk=filed.pk).draft_id is not None
    deleted = AuditEntry.objects.filter(action="draft.retention_deleted")
    assert sorted(e.object_id for e in deleted) == sorted(str(d.pk) for d in abandoned)
    assert deleted.get(object_id=str(abandoned[0].pk)).data["documents_removed"] == 1
    assert apply_retention(now=after).drafts == 0  # idempotent
    call_command("retention", f"--date={(after + dt.timedelta(days=365)).date()}")
    assert "1 abandoned drafts" in capsys.readouterr().out  # the recent one, a year on
    assert audit.verify_chain().ok


def test_the_reserve_through_the_api(citizen, staff, case, catalog):
    url = f"/api/v1/office/filings/{case.number}/reserve"
    until = (clock.local_now().date() + dt.timedelta(days=10)).isoformat()
    body = {"until": until, "reason": "Ley 27806, art. 17"}
    ok = token_client(staff["supervisor"]).post(url, body, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["reserved_until"] == until
    refused = token_client(staff["evaluator"]).post(url, body, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    outsider = make_official("ajeno", "MTC", ["supervisor"])
    hidden = token_client(outsider).post(url, body, content_type="application/json")
    assert hidden.status_code == 404
    bad = token_client(staff["supervisor"]).post(
        url, {"until": "2000-01-01", "reason": ""}, content_type="application/json"
    )
    assert bad.status_code == 422 and set(bad.json()["error"]["fields"]) == {"until", "reason"}
    lifted = token_client(staff["supervisor"]).post(
        url, {"until": None, "reason": "Terminó"}, content_type="application/json"
    )
    assert lifted.json()["reserved_until"] is None


@pytest.mark.django_db(transaction=True)
def test_a_read_outside_a_transaction_commits_asynchronously_and_is_kept(citizen, settings):
    if connection.vendor != "postgresql":
        pytest.skip("asynchronous commit is PostgreSQL's (this test runs in that pass)")
    from django.test.utils import CaptureQueriesContext

    for relaxed in (True, False):
        settings.TAMBO_ACCESS_LOG_ASYNC_COMMIT = relaxed
        with CaptureQueriesContext(connection) as queries:
            record_access(
                None,
                citizen.pk,
                [("personal_data", "")],
                agency_code="X",
                agency_name="X",
                purpose="p",
                accessor_label="sistema",
            )
        # One statement writes it (what follows is the after-commit sealing of the chain).
        statement = queries.captured_queries[0]["sql"]
        assert "privacy_accessentry" in statement and "core_pendingseal" in statement
        assert ("synchronous_commit" in statement) is relaxed
    assert AccessEntry.objects.filter(citizen=citizen).count() == 2
    assert AuditEntry.objects.filter(action="privacy.access").count() == 2
