"""End to end through the web pages with Django's test client: find, fill, check, file, follow."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tambo.cases.models import Document, Draft, Filing
from tambo.core.models import AuditEntry

from .conftest import PNG_1PX, answers_for, pdf_upload, with_file_field, without_file_field

pytestmark = pytest.mark.django_db


def start(web, proc) -> str:
    response = web.post(reverse("cases:start", args=[proc.agency.code, proc.code]))
    assert response.status_code == 302
    return response["Location"]


def form_post(proc, answers: dict, **files) -> dict:
    data = {k: ("yes" if v is True else "no" if v is False else v) for k, v in answers.items()}
    data["continue"] = "1"
    data.update(files)
    return data


def test_citizen_files_a_procedure_with_a_document_and_gets_a_receipt(web, citizen, catalog):
    proc = with_file_field(catalog)
    page = web.get(reverse("catalog:procedure", args=[proc.agency.code, proc.code]))
    html = page.content.decode()
    # What you need, cost and term come before the questions.
    assert html.index("Qué necesita") < html.index("Cuánto cuesta") < html.index("Cuánto demora")
    draft_url = start(web, proc)
    assert web.get(draft_url).status_code == 200

    files = {
        f.name: pdf_upload(f"{f.name}.pdf")
        for f in proc.current_version.file.form
        if f.type == "file"
    }
    response = web.post(draft_url, form_post(proc, answers_for(proc), **files))
    assert response.status_code == 302, response.content.decode()[:2000]
    review_url = response["Location"]
    assert review_url.endswith("/revisar/")
    review = web.get(review_url).content.decode()
    assert "Revise sus respuestas" in review
    assert "Cambiar" in review

    response = web.post(review_url)
    assert response.status_code == 302
    filing = Filing.objects.get(citizen=citizen)
    assert response["Location"] == reverse("cases:receipt", args=[filing.number])
    receipt = web.get(response["Location"]).content.decode()
    assert filing.number in receipt
    assert re.fullmatch(rf"{proc.agency.code}-\d{{4}}-\d{{7}}", filing.number)
    docs = list(Document.objects.filter(filing=filing))
    assert len(docs) == len(files)
    for doc in docs:
        assert doc.sha256 in receipt
    assert filing.due_on.isoformat() in receipt
    assert filing.access_code in receipt

    pdf = web.get(reverse("cases:receipt_pdf", args=[filing.number]))
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")

    mine = web.get(reverse("cases:my_filings")).content.decode()
    assert filing.number in mine
    detail = web.get(reverse("cases:filing", args=[filing.number])).content.decode()
    assert "Presentado y recibido" in detail


def test_double_submit_of_the_check_page_creates_one_expediente(web, citizen, catalog):
    proc = without_file_field(catalog)
    draft_url = start(web, proc)
    response = web.post(draft_url, form_post(proc, answers_for(proc)))
    review_url = response["Location"]
    first = web.post(review_url)
    second = web.post(review_url)
    assert Filing.objects.filter(citizen=citizen).count() == 1
    assert first["Location"] == second["Location"]


def test_field_errors_are_shown_next_to_the_field_and_in_the_summary_and_input_is_kept(
    web, catalog
):
    proc = without_file_field(catalog)
    form = proc.current_version.file
    email_field = next((f for f in form.form if f.type == "email"), None)
    assert email_field is not None, "the demo procedure should ask for an e-mail"
    answers = answers_for(proc)
    answers[email_field.name] = "not-an-email"
    kept = next(f for f in form.form if f.type in {"text", "long_text", "address"})
    answers[kept.name] = "Texto que no se debe perder"
    draft_url = start(web, proc)
    response = web.post(draft_url, form_post(proc, answers))
    assert response.status_code == 422
    html = response.content.decode()
    assert 'class="error-summary"' in html
    assert f'href="#field-{email_field.name}"' in html
    assert f'id="error-{email_field.name}"' in html
    assert "correo electrónico válido" in html
    assert "Texto que no se debe perder" in html
    assert 'value="not-an-email"' in html


def test_a_required_file_that_is_missing_is_reported_and_nothing_is_filed(web, citizen, catalog):
    proc = with_file_field(catalog)
    draft_url = start(web, proc)
    response = web.post(draft_url, form_post(proc, answers_for(proc)))
    assert response.status_code == 422
    assert "Adjunte el archivo" in response.content.decode()
    assert not Filing.objects.exists()


def test_a_mislabelled_upload_is_refused_with_a_clear_message(web, catalog):
    proc = with_file_field(catalog)
    field = next(f for f in proc.current_version.file.form if f.type == "file")
    fake = pdf_upload("plano.pdf")
    fake.seek(0)
    fake.truncate()
    fake.write(b"this is plain text pretending to be a pdf")
    fake.seek(0)
    draft_url = start(web, proc)
    response = web.post(draft_url, form_post(proc, answers_for(proc), **{field.name: fake}))
    assert response.status_code == 422
    assert "no es de un tipo permitido" in response.content.decode()
    assert not Document.objects.exists()


def test_the_uploaded_file_stays_with_the_draft_and_is_not_asked_for_twice(web, catalog):
    proc = with_file_field(catalog)
    files = {f.name: pdf_upload() for f in proc.current_version.file.form if f.type == "file"}
    draft_url = start(web, proc)
    answers = answers_for(proc)
    email = next(
        f.name for f in proc.current_version.file.form if f.type in {"email", "phone", "dni"}
    )
    broken = dict(answers, **{email: "???"})
    response = web.post(draft_url, form_post(proc, broken, **files))
    assert response.status_code == 422
    html = response.content.decode()
    assert "Archivo adjunto" in html
    # Fix the error without uploading again: the draft already has the file.
    response = web.post(draft_url, form_post(proc, answers))
    assert response.status_code == 302
    assert response["Location"].endswith("/revisar/")


def test_save_and_come_back_later_keeps_the_draft(web, citizen, catalog):
    proc = without_file_field(catalog)
    draft_url = start(web, proc)
    partial = dict(list(answers_for(proc).items())[:1])
    partial["save_later"] = "1"
    response = web.post(draft_url, partial)
    assert response.status_code == 302
    draft = Draft.objects.get(citizen=citizen)
    assert draft.answers
    mine = web.get(reverse("cases:my_filings")).content.decode()
    assert str(draft.pk) in mine


def test_another_citizen_cannot_open_my_draft_or_expediente(
    web, citizen, other_citizen, catalog, client
):
    proc = without_file_field(catalog)
    draft_url = start(web, proc)
    web.post(draft_url, form_post(proc, answers_for(proc)))
    web.post(draft_url + "revisar/")
    filing = Filing.objects.get(citizen=citizen)
    client.force_login(other_citizen)
    assert client.get(draft_url).status_code == 404
    assert client.get(reverse("cases:filing", args=[filing.number])).status_code == 404
    assert client.get(reverse("cases:receipt_pdf", args=[filing.number])).status_code == 404
    assert filing.number not in client.get(reverse("cases:my_filings")).content.decode()


def test_anyone_with_number_and_access_code_sees_the_status_and_nothing_else(
    web, citizen, catalog, client
):
    proc = without_file_field(catalog)
    draft_url = start(web, proc)
    web.post(draft_url, form_post(proc, answers_for(proc)))
    web.post(draft_url + "revisar/")
    filing = Filing.objects.get(citizen=citizen)
    url = reverse("cases:status_lookup")
    wrong = client.post(url, {"numero": filing.number, "codigo": "WRONG123"})
    assert wrong.status_code == 422
    assert "No encontramos" in wrong.content.decode()
    right = client.post(
        url, {"numero": filing.number.lower(), "codigo": filing.access_code.lower()}
    )
    html = right.content.decode()
    assert right.status_code == 200
    assert "Recibido" in html
    assert citizen.document_number not in html
    assert citizen.last_name not in html
    for value in filing.answers.values():
        if isinstance(value, str) and len(value) > 4:
            assert value not in html


def test_login_is_required_to_start_a_filing(client, catalog):
    proc = without_file_field(catalog)
    response = client.post(reverse("cases:start", args=[proc.agency.code, proc.code]))
    assert response.status_code == 302
    assert reverse("identity:login") in response["Location"]


def test_each_state_change_of_a_filing_is_in_the_audit_log(web, citizen, catalog):
    proc = with_file_field(catalog)
    files = {f.name: pdf_upload() for f in proc.current_version.file.form if f.type == "file"}
    draft_url = start(web, proc)
    web.post(draft_url, form_post(proc, answers_for(proc), **files))
    web.post(draft_url + "revisar/")
    filing = Filing.objects.get(citizen=citizen)
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert "draft.started" in actions
    assert "draft.document_added" in actions
    assert actions[-1] == "filing.submitted"
    entry = AuditEntry.objects.get(action="filing.submitted")
    assert entry.object_id == filing.number
    assert entry.actor_id == citizen.pk
    assert {d["sha256"] for d in entry.data["documents"]} == set(
        filing.documents.values_list("sha256", flat=True)
    )


def test_png_is_accepted_where_the_requirement_allows_images(web, catalog):
    for proc in catalog:
        field = next(
            (
                f
                for f in proc.current_version.file.form
                if f.type == "file" and "png" in f.accepted_types
            ),
            None,
        )
        if field:
            break
    else:
        pytest.fail("no demo procedure accepts PNG images")
    draft_url = start(web, proc)
    import io

    image = io.BytesIO(PNG_1PX)
    image.name = "foto.png"
    web.post(draft_url, {**form_post(proc, {}), field.name: image, "save_later": "1"})
    doc = Document.objects.get(field_name=field.name)
    assert doc.media_type == "image/png"
