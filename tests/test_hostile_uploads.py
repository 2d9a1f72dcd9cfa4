"""Every file of the hostile corpus (tests/hostile) is refused, over the web form and the API.

Refused means: a clear message on the file field (422), no traceback, and nothing stored —
no Document row and no file under MEDIA_ROOT. The bodies are encoded by hand so that the
names reach the server exactly as an attacker would send them.
"""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from tambo.cases import actions
from tambo.cases.models import AssistedConsent, Document, Draft
from tambo.core.upload_names import traversal_message
from tambo.demo.samples import MINIMAL_PDF
from tambo.identity.models import ApiToken

from .conftest import answers_for
from .hostile import (
    CORPUS,
    PLAIN_PATH_NAMES,
    SMALL_INFLATE_LIMIT,
    SMALL_LIMIT,
    TRAVERSAL_NAMES,
    Hostile,
)

pytestmark = pytest.mark.django_db
BOUNDARY = "----tambo-hostile-boundary"


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.TAMBO_MAX_FILE_BYTES = SMALL_LIMIT
    settings.TAMBO_MAX_PDF_INFLATED_BYTES = SMALL_INFLATE_LIMIT


def multipart(fields: dict[str, str], file_field: str, item: Hostile) -> bytes:
    """A multipart body with the file's name sent verbatim (RFC 5987 ``filename*``)."""
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{file_field}"; '
            f"filename*=UTF-8''{quote(item.name, safe='')}\r\n"
            f"Content-Type: {item.content_type}\r\n\r\n"
        ).encode()
        + item.data
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def all_types_field(catalog):
    """A procedure and a file field accepting PDF, JPEG and PNG (so every check is reached)."""
    for proc in catalog.order_by("agency__code", "code"):
        for field in proc.current_version.file.form:
            if field.type == "file" and set(field.accepted_types) == {"pdf", "jpeg", "png"}:
                return proc, field
    raise AssertionError("the demo catalogue has no file field accepting pdf, jpeg and png")


def media_files() -> set[Path]:
    root = Path(settings.MEDIA_ROOT)
    return {p for p in root.rglob("*") if p.is_file()}


def assert_nothing_stored(before: set[Path]) -> None:
    assert not Document.objects.exists()
    assert media_files() == before


@pytest.mark.parametrize("item", CORPUS, ids=[c.id for c in CORPUS])
def test_hostile_file_is_refused_through_the_web_form(item, web, citizen, catalog):
    proc, field = all_types_field(catalog)
    draft_url = web.post(reverse("cases:start", args=[proc.agency.code, proc.code]))["Location"]
    answers = {
        k: ("yes" if v is True else "no" if v is False else str(v))
        for k, v in answers_for(proc).items()
    }
    before = media_files()
    response = web.post(
        draft_url,
        data=multipart({**answers, "continue": "1"}, field.name, item),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    html = response.content.decode()
    assert response.status_code == 422, html[:500]
    assert f'id="error-{field.name}"' in html
    assert "Traceback" not in html
    assert_nothing_stored(before)


@pytest.mark.parametrize("item", CORPUS, ids=[c.id for c in CORPUS])
def test_hostile_file_is_refused_through_the_api(item, citizen, catalog):
    proc, field = all_types_field(catalog)
    _token, raw = ApiToken.issue(citizen, "tests")
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    draft = actions.start_draft(citizen, proc.current_version)
    before = media_files()
    response = api.post(
        f"/api/v1/drafts/{draft.pk}/documents/{field.name}",
        data=multipart({}, "file", item),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert response.status_code == 422, response.content[:500]
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["fields"][field.name]
    assert "Traceback" not in response.content.decode()
    assert_nothing_stored(before)


@pytest.mark.parametrize(
    "name", [c.name for c in CORPUS if c.id.startswith("name-")] + TRAVERSAL_NAMES
)
def test_hostile_names_are_refused_by_the_action_itself(name, citizen, catalog):
    """Any channel that hands a raw name to the action (not only HTTP) gets the refusal."""
    proc, field = all_types_field(catalog)
    draft = actions.start_draft(citizen, proc.current_version)
    before = media_files()
    with pytest.raises(actions.ValidationFailed) as info:
        actions.attach_document(citizen, draft.pk, field.name, io.BytesIO(MINIMAL_PDF), name)
    assert info.value.errors[field.name]
    assert_nothing_stored(before)


def form_answers(proc) -> dict[str, str]:
    return {
        k: ("yes" if v is True else "no" if v is False else str(v))
        for k, v in answers_for(proc).items()
    }


def assert_refused_on_the_form(response, field_name: str) -> None:
    """422 with the traversal message next to the field and in the error summary."""
    html = response.content.decode()
    assert response.status_code == 422, html[:500]
    message = escape(traversal_message())
    assert f'id="error-{field_name}"' in html
    field_error = html[html.index(f'id="error-{field_name}"') :][:400]
    assert message in field_error
    assert f'<a href="#field-{field_name}">{message}</a>' in html
    assert "Traceback" not in html


@pytest.mark.parametrize("name", TRAVERSAL_NAMES)
def test_a_traversal_name_is_refused_over_the_api_and_nothing_is_stored(name, citizen, catalog):
    """Django's parser would keep only the last part of the name; Tambo refuses the file."""
    proc, field = all_types_field(catalog)
    _token, raw = ApiToken.issue(citizen, "tests")
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    draft = actions.start_draft(citizen, proc.current_version)
    before = media_files()
    response = api.post(
        f"/api/v1/drafts/{draft.pk}/documents/{field.name}",
        data=multipart({}, "file", Hostile("t", name, MINIMAL_PDF)),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["fields"] == {field.name: traversal_message()}
    assert_nothing_stored(before)
    after = Draft.objects.get(pk=draft.pk)
    assert (after.answers, after.updated_at) == (draft.answers, draft.updated_at)


@pytest.mark.parametrize("name", TRAVERSAL_NAMES)
def test_a_traversal_name_is_refused_on_the_web_form_and_nothing_is_stored(
    name, web, citizen, catalog
):
    proc, field = all_types_field(catalog)
    draft_url = web.post(reverse("cases:start", args=[proc.agency.code, proc.code]))["Location"]
    before = media_files()
    response = web.post(
        draft_url,
        data=multipart(
            {**form_answers(proc), "continue": "1"}, field.name, Hostile("t", name, MINIMAL_PDF)
        ),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert_refused_on_the_form(response, field.name)
    assert_nothing_stored(before)


def test_a_clean_upload_over_the_api_and_the_web_form_is_stored_under_its_name(
    web, citizen, catalog
):
    """The name check parses every multipart body: ordinary files must still go through."""
    proc, field = all_types_field(catalog)
    _token, raw = ApiToken.issue(citizen, "tests")
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    draft = actions.start_draft(citizen, proc.current_version)
    response = api.post(
        f"/api/v1/drafts/{draft.pk}/documents/{field.name}",
        data=multipart({}, "file", Hostile("t", "constancia.pdf", MINIMAL_PDF)),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "constancia.pdf"

    draft_url = web.post(reverse("cases:start", args=[proc.agency.code, proc.code]))["Location"]
    upload = io.BytesIO(MINIMAL_PDF)
    upload.name = "plano.pdf"
    saved = web.post(draft_url, {**form_answers(proc), field.name: upload, "save_later": "1"})
    assert saved.status_code == 302, saved.content.decode()[:800]
    names = sorted(Document.objects.values_list("original_name", flat=True))
    assert names == ["constancia.pdf", "plano.pdf"]
    for document in Document.objects.all():
        assert document.file.read() == MINIMAL_PDF
        document.file.close()


def test_a_clean_pdf_jpeg_and_png_are_still_accepted(web, citizen, catalog):
    """The corpus is refused for what it hides, not because the checks refuse everything."""
    from .conftest import PNG_1PX
    from .hostile import MINIMAL_JPEG

    proc, field = all_types_field(catalog)
    draft = actions.start_draft(citizen, proc.current_version)
    for name, data in [("a.pdf", MINIMAL_PDF), ("b.jpg", MINIMAL_JPEG), ("c.png", PNG_1PX)]:
        stream = io.BytesIO(data)
        document = actions.attach_document(citizen, draft.pk, field.name, stream, name)
        assert document.original_name == name
    assert Draft.objects.get(pk=draft.pk).documents.count() == 1


REASONS = {
    "pdf-flate-bomb": "comprimido de forma anómala",
    "pdf-truncated": "incompleto o dañado",
    "pdf-claimed-as-html": "tipo declarado",
    "name-very-long": "demasiado largo",
    "empty": "vacío",
    "oversized": "pesa más de",
}


def expected_reason(item: Hostile) -> str:
    if item.id in REASONS:
        return REASONS[item.id]
    if item.id.startswith("pdf-") and not item.id.startswith(("pdf-zip", "pdf-html", "pdf-named")):
        return "contenido activo"
    if "polyglot" in item.id or item.id in {"jpeg-html-in-comment", "png-with-html-chunk"}:
        return "otro formato escondido"
    if item.id in {"png-named-pdf", "pdf-named-jpg", "pdf-named-exe"}:
        return "extensión del nombre"
    if "traversal" in item.id:
        return "ruta de carpetas"
    if item.id.startswith("name-"):
        return "caracteres no permitidos"
    return "no es de un tipo permitido"


@pytest.mark.parametrize("item", CORPUS, ids=[c.id for c in CORPUS])
def test_each_hostile_file_is_refused_for_what_it_is(item, settings):
    """Each case meets the check written for it (not merely some other refusal)."""
    from tambo.cases.uploads import UploadRejected, check_file

    with pytest.raises(UploadRejected) as info:
        check_file(
            io.BytesIO(item.data),
            accepted=("pdf", "jpeg", "png"),
            max_bytes=SMALL_LIMIT,
            filename=item.name,
            claimed_type=item.content_type,
        )
    assert expected_reason(item) in str(info.value)


def _plain_multipart(fields: dict[str, str], file_field: str, filename: str) -> bytes:
    """Like ``multipart`` but with the plain ``filename="..."`` parameter, unescaped, as old
    browsers send a full Windows path (``C:\\Users\\x.pdf``)."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{filename}"\r\nContent-Type: application/pdf\r\n\r\n'.encode()
        + MINIMAL_PDF
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


@pytest.mark.parametrize("sent", PLAIN_PATH_NAMES)
def test_a_windows_full_path_is_accepted_and_kept_as_its_base_name_wherever_it_is_shown(
    sent, citizen, web, catalog
):
    """Decision: a Windows full path without ``..`` (what old browsers send for the file the
    person picked) is not traversal; Django's parser keeps its last component, which is safe
    since files are stored by id. What the citizen and the officials then see — form, receipt,
    case page, API, download name — is that base name."""
    from tambo.cases.models import Filing

    from .conftest import login_official, make_official, procedure

    proc = procedure("LF-RIESGO-BAJO", "MDSI")
    draft = actions.start_draft(citizen, proc.current_version)
    answers = {k: str(v) for k, v in answers_for(proc).items() if isinstance(v, str | int)}
    body = _plain_multipart(answers, "declaracion_seguridad", sent)
    saved = web.post(
        f"/borradores/{draft.pk}/",
        data=body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert saved.status_code == 302, saved.content.decode()[:800]
    document = Document.objects.get(draft=draft)
    assert document.original_name == "x.pdf"
    form = web.get(f"/borradores/{draft.pk}/").content.decode()
    assert "<strong>x.pdf</strong>" in form and sent not in form

    filing = actions.submit_draft(citizen, draft.pk).filing
    receipt = web.get(f"/expedientes/{filing.number}/cargo/").content.decode()
    assert "<td>x.pdf</td>" in receipt and sent not in receipt
    _token, raw = ApiToken.issue(citizen, "tests")
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    names = [d["name"] for d in api.get(f"/api/v1/filings/{filing.number}").json()["documents"]]
    assert names == ["x.pdf"]

    official = login_official(Client(), make_official("mesa", "MDSI", ["front_desk"], ["MP"]))
    case = official.get(f"/oficina/expedientes/{filing.number}/").content.decode()
    link = f"/oficina/expedientes/{filing.number}/archivos/{document.pk}/"
    assert f'<a href="{link}">x.pdf</a>' in case and sent not in case
    download = official.get(link)
    assert download["Content-Disposition"] == 'attachment; filename="x.pdf"'
    assert b"".join(download.streaming_content) == MINIMAL_PDF  # read to the end: closed
    assert Filing.objects.get(pk=filing.pk).documents.get().original_name == "x.pdf"


@pytest.mark.parametrize(
    "sent", ["../../x.pdf", "C:\\Users\\rosa\\..\\x.pdf", "/tmp/../x.pdf", "\\\\servidor\\x.pdf"]
)
def test_a_traversal_name_sent_unescaped_as_old_browsers_do_is_refused_on_the_form(
    sent, citizen, web, catalog
):
    """The plain ``filename="..."`` parameter (backslashes unescaped by the header parser) is
    judged like ``filename*``."""
    from .conftest import procedure

    proc = procedure("LF-RIESGO-BAJO", "MDSI")
    draft = actions.start_draft(citizen, proc.current_version)
    answers = {k: str(v) for k, v in answers_for(proc).items() if isinstance(v, str | int)}
    before = media_files()
    response = web.post(
        f"/borradores/{draft.pk}/",
        data=_plain_multipart(answers, "declaracion_seguridad", sent),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert_refused_on_the_form(response, "declaracion_seguridad")
    assert_nothing_stored(before)


def test_the_document_check_refuses_a_traversal_name_on_the_page_and_the_api():
    """Verifying a document stores nothing, but the same names are refused as on filing."""
    item = Hostile("t", "../../documento.pdf", MINIMAL_PDF)
    page = Client().post(
        "/verificar/",
        data=multipart({}, "archivo", item),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert_refused_on_the_form(page, "archivo")
    api = Client().post(
        "/api/v1/verify",
        data=multipart({}, "file", item),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert api.status_code == 422, api.content
    error = api.json()["error"]
    assert (error["code"], error["fields"]) == ("validation_error", {"file": traversal_message()})
    clean = Client().post(
        "/api/v1/verify",
        data=multipart({}, "file", Hostile("t", "documento.pdf", MINIMAL_PDF)),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert clean.status_code == 200 and clean.json()["status"] == "not_signed"


def test_an_assisted_paper_consent_scan_with_a_traversal_name_is_refused(citizen, catalog):
    """The scan of a signed consent goes through the same check (assisted filing)."""
    from .conftest import PNG_1PX, login_official, make_official, without_file_field

    helper = login_official(Client(), make_official("tambo_ana", "MDSI", ["intermediary"], ["MP"]))
    proc = without_file_field(catalog)
    form = {"document_type": "dni", "document_number": citizen.document_number, "method": "paper"}
    before = media_files()
    response = helper.post(
        f"/asistido/{proc.agency.code}/{proc.code}/",
        data=multipart(form, "scan", Hostile("t", "..\\..\\consent.png", PNG_1PX, "image/png")),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert_refused_on_the_form(response, "scan")
    assert AssistedConsent.objects.count() == 0
    assert media_files() == before
