"""Signed documents: issuing (PAdES), the register, and the public verification (page and API).

Every signature is checked three ways: pyHanko's validator with the demo CA as the only
trust root, poppler's ``pdfsig``, and Tambo's own verification page and API.
"""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers import SimpleSigner
from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature
from pyhanko.stamp import TextStamp, TextStampStyle
from pyhanko_certvalidator import ValidationContext

from tambo.catalog.models import Agency
from tambo.core.models import AuditEntry
from tambo.demo.samples import MINIMAL_PDF
from tambo.documents import actions, keys, verify
from tambo.documents.errors import DocumentFailed, SigningUnavailable
from tambo.documents.models import IssuedDocument
from tambo.documents.public import CODE_ALPHABET, format_code, normalize_code
from tambo.identity.models import User

TEMPLATE = "documents/sample_resolution_pdf.html"
APPLICANT = "Rosa Quispe Mamani"
APPLICANT_DNI = "40123456"
ADDRESS = "Av. Javier Prado Oeste 1234"
FILING = "MDSI-2026-0000042"
PUBLIC = {
    "tipo": "Resolución de Gerencia",
    "numero": "045-2026-GDU/MDSI",
    "expediente": FILING,
    "decision": "Aprobada",
}


# --- Fixtures and helpers -------------------------------------------------------------------


@pytest.fixture(scope="session")
def shared_keys_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("signing-keys")


@pytest.fixture
def pki(catalog, settings, shared_keys_dir) -> Path:
    """The demo PKI (in a temporary directory) for every agency of the demo catalogue."""
    keys.create_demo_pki(shared_keys_dir, dict(Agency.objects.values_list("code", "name")))
    settings.TAMBO_SIGNING_KEYS = shared_keys_dir
    keys.clear_signer_cache()
    yield shared_keys_dir
    keys.clear_signer_cache()


@pytest.fixture
def media(settings, tmp_path) -> Path:
    """A media directory of the test's own, to see exactly which files were stored."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def agency(catalog) -> Agency:
    return Agency.objects.get(code="MDSI")


def stored_files(media: Path) -> list[Path]:
    return sorted(p for p in media.rglob("*") if p.is_file()) if media.exists() else []


def issue(agency: Agency, **overrides) -> IssuedDocument:
    arguments = {
        "agency": agency,
        "kind": "resolution",
        "title": f"Resolución de Gerencia N° 045-2026-GDU/MDSI — {FILING}",
        "template_name": TEMPLATE,
        "context": {
            "agency_name": agency.name,
            "unit_name": "Gerencia de Desarrollo Urbano",
            "number": "RESOLUCIÓN DE GERENCIA N° 045-2026-GDU/MDSI",
            "filing_number": FILING,
            "procedure_name": "Licencia de funcionamiento",
            "applicant_name": APPLICANT,
            "applicant_document": APPLICANT_DNI,
            "address": ADDRESS,
            "decision": "APROBAR",
            "official_name": "Carla Mendoza Ríos",
            "official_role": "Gerente de Desarrollo Urbano",
        },
        "subject_type": "filing",
        "subject_id": FILING,
        "public_fields": PUBLIC,
        "actor": None,
    }
    arguments.update(overrides)
    with transaction.atomic():
        return actions.issue_pdf(**arguments)


def pdf_bytes(document: IssuedDocument) -> bytes:
    with document.file.open("rb") as stream:
        return stream.read()


def validate(data: bytes, trust_roots=None, **kwargs):
    """pyHanko's own verdict on the first signature, offline, with the demo CA as trust root."""
    signature = PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures[0]
    context = ValidationContext(
        trust_roots=keys.trust_roots() if trust_roots is None else trust_roots,
        allow_fetching=False,
    )
    return validate_pdf_signature(signature, signer_validation_context=context, **kwargs)


def pdfsig(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / f"check-{hashlib.sha256(data).hexdigest()[:8]}.pdf"
    path.write_bytes(data)
    run = subprocess.run(
        ["/usr/bin/pdfsig", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    return run.stdout + run.stderr


def with_text_added(data: bytes) -> bytes:
    """An incremental update after signing that puts new text on the page."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    TextStamp(writer, style=TextStampStyle(stamp_text="DENEGADA — SIN EFECTO")).apply(0, 60, 520)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def with_byte_flipped(data: bytes) -> bytes:
    """One byte changed inside the first signed range (the header's binary comment)."""
    position = data.index(b"\n%", 0, 64) + 2
    changed = bytearray(data)
    changed[position] ^= 0x01
    return bytes(changed)


def foreign_signer(directory: Path) -> SimpleSigner:
    """A key certified by another CA we never trusted (same names, different keys)."""
    keys.create_demo_pki(directory, {"MDSI": "Municipalidad Distrital de San Isidro"})
    return SimpleSigner.load_pkcs12_data(
        (directory / "MDSI.p12").read_bytes(), other_certs=[], passphrase=b"tambo-demo-keys"
    )


def page_check(data: bytes, name: str = "documento.pdf"):
    return Client().post("/verificar/", {"archivo": SimpleUploadedFile(name, data)})


def api_check(data: bytes, name: str = "documento.pdf"):
    return Client().post("/api/v1/verify", {"file": SimpleUploadedFile(name, data)})


def page_status(response) -> str:
    match = re.search(r'data-status="([a-z_]+)"', response.content.decode())
    return match.group(1) if match else ""


# --- Issuing --------------------------------------------------------------------------------


def test_an_issued_pdf_carries_a_pades_signature_pyhanko_finds_intact_and_trusted(
    pki, media, agency
):
    document = issue(agency)
    data = pdf_bytes(document)
    assert data.startswith(b"%PDF-")
    assert (document.sha256, document.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert document.file.name.startswith("documents/issued/")
    assert len(document.code) == 12 and set(document.code) <= set(CODE_ALPHABET)

    status = validate(data)
    assert status.intact and status.valid and status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.bottom_line
    assert status.md_algorithm == "sha256"
    signature = PdfFileReader(io.BytesIO(data)).embedded_signatures[0]
    assert signature.field_name == "Signature1"
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert signature.sig_object["/Location"] == "Peru"
    assert document.code in signature.sig_object["/Reason"]
    subject = signature.signer_cert.subject.native
    assert (subject["common_name"], subject["organization_name"]) == (agency.name, agency.code)
    assert document.signer_certificate_sha256 == keys.certificate_sha256(signature.signer_cert)

    entry = AuditEntry.objects.get(action="document.issued", object_id=document.code)
    assert entry.agency_code == agency.code
    assert entry.data == {
        "kind": "resolution",
        "subject": {"type": "filing", "id": FILING},
        "sha256": document.sha256,
    }


def test_the_pdf_prints_the_verification_code_and_address(pki, media, agency, tmp_path):
    document = issue(agency)
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf_bytes(document))
    text = subprocess.run(
        ["/usr/bin/pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert format_code(document.code) in text
    assert f"/verificar/{document.code}/" in "".join(text.split())  # the line may wrap
    assert APPLICANT in text  # the document itself names the applicant; the public pages do not


def test_pdfsig_reports_the_signature_valid_over_the_whole_document(pki, media, agency, tmp_path):
    document = issue(agency)
    report = pdfsig(pdf_bytes(document), tmp_path)
    assert "Signature Field Name: Signature1" in report
    assert f"Signer Certificate Common Name: {agency.name}" in report
    assert "Signature Type: ETSI.CAdES.detached" in report
    assert "Signing Hash Algorithm: SHA-256" in report
    assert "Total document signed" in report
    assert "Signature Validation: Signature is Valid." in report


def test_the_page_and_the_api_say_authentic_for_the_exact_bytes(pki, media, agency):
    document = issue(agency)
    data = pdf_bytes(document)
    result = verify.check_pdf(data)
    assert (result.status, result.document) == ("authentic", document)

    response = page_check(data)
    assert response.status_code == 200
    assert page_status(response) == "authentic"
    assert "Documento auténtico registrado" in response.content.decode()

    body = api_check(data).json()
    assert body["status"] == "authentic"
    assert body["message"] == result.message
    assert body["document"]["code"] == document.code
    assert body["document"]["agency"] == {"code": agency.code, "name": agency.name}
    assert body["document"]["kind"] == "resolution"
    assert body["document"]["public_fields"] == PUBLIC


# --- Altered copies -------------------------------------------------------------------------


def test_text_added_after_signing_is_reported_altered_by_pyhanko_pdfsig_page_and_api(
    pki, media, agency, tmp_path
):
    document = issue(agency)
    altered = with_text_added(pdf_bytes(document))

    status = validate(altered)
    assert status.intact and status.valid  # the signed revision itself is untouched...
    assert status.coverage == SignatureCoverageLevel.ENTIRE_REVISION  # ...but not the file
    assert not status.docmdp_ok and not status.bottom_line

    report = pdfsig(altered, tmp_path)
    assert "Not total document signed" in report
    assert "Total document signed" not in report.replace("Not total document signed", "")

    result = verify.check_pdf(altered)
    assert (result.status, result.document) == ("altered", document)
    response = page_check(altered)
    assert page_status(response) == "altered"
    assert "Documento alterado" in response.content.decode()
    body = api_check(altered).json()
    assert (body["status"], body["document"]["code"]) == ("altered", document.code)


def test_a_byte_changed_inside_the_signed_range_is_reported_altered_everywhere(
    pki, media, agency, tmp_path
):
    document = issue(agency)
    altered = with_byte_flipped(pdf_bytes(document))
    assert len(altered) == document.size and altered != pdf_bytes(document)

    status = validate(altered)
    assert not status.intact and not status.bottom_line

    report = pdfsig(altered, tmp_path)
    assert "Signature is Valid" not in report
    assert "Digest Mismatch" in report

    assert verify.check_pdf(altered).status == "altered"
    assert page_status(page_check(altered)) == "altered"
    assert api_check(altered).json()["status"] == "altered"


# --- Other files ------------------------------------------------------------------------------


def test_an_unsigned_pdf_is_not_signed(pki, media):
    assert verify.check_pdf(MINIMAL_PDF).status == "not_signed"
    response = page_check(MINIMAL_PDF)
    assert response.status_code == 200 and page_status(response) == "not_signed"
    body = api_check(MINIMAL_PDF).json()
    assert (body["status"], body["document"]) == ("not_signed", None)


def test_a_pdf_signed_by_a_key_we_did_not_certify_is_a_foreign_signature(
    pki, media, agency, tmp_path
):
    signer = foreign_signer(tmp_path / "elsewhere")
    html = "<html><body><h1>Resolución</h1><p>Aprobada.</p></body></html>"
    data = actions.sign_pdf(actions.render_pdf(html), signer, reason="Firma de otra autoridad")

    status = validate(data)
    assert status.intact and status.valid and not status.trusted  # sound, but not ours
    assert "Signature is Valid." in pdfsig(data, tmp_path)

    assert verify.check_pdf(data).status == "foreign_signature"
    assert page_status(page_check(data)) == "foreign_signature"
    body = api_check(data).json()
    assert (body["status"], body["document"]) == ("foreign_signature", None)


def test_a_foreign_signature_claiming_one_of_our_codes_is_altered(pki, media, agency, tmp_path):
    document = issue(agency)
    signer = foreign_signer(tmp_path / "forger")
    html = "<html><body><h1>Resolución</h1><p>Aprobada.</p></body></html>"
    forged = actions.sign_pdf(
        actions.render_pdf(html),
        signer,
        reason=f"Resolución · código de verificación {document.code}",
    )
    result = verify.check_pdf(forged)
    assert (result.status, result.document) == ("altered", document)


def test_a_pdf_we_signed_but_never_registered_is_unknown(pki, media, agency):
    html = "<html><body><p>Borrador firmado fuera del registro.</p></body></html>"
    data = actions.sign_pdf(
        actions.render_pdf(html), keys.load_signer(agency.code), reason="prueba"
    )
    assert validate(data).trusted
    result = verify.check_pdf(data)
    assert (result.status, result.document) == ("unknown", None)
    assert api_check(data).json()["status"] == "unknown"


def test_the_public_api_needs_no_login_and_no_csrf_token(pki, media):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/api/v1/verify", {"file": SimpleUploadedFile("a.pdf", MINIMAL_PDF)})
    assert response.status_code == 200 and response.json()["status"] == "not_signed"
    # The page's form carries its CSRF token like every other form.
    assert (
        client.post(
            "/verificar/", {"archivo": SimpleUploadedFile("a.pdf", MINIMAL_PDF)}
        ).status_code
        == 403
    )
    form = client.get("/verificar/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode()).group(1)
    response = client.post(
        "/verificar/",
        {"archivo": SimpleUploadedFile("a.pdf", MINIMAL_PDF), "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 200 and page_status(response) == "not_signed"


def test_a_text_file_is_not_a_pdf_and_gets_an_answer_not_an_error(pki, media):
    text = b"Esto no es un PDF.\n"
    assert verify.check_pdf(text).status == "not_pdf"
    assert verify.check_pdf(b"%PDF-1.7\nbasura sin estructura").status == "not_pdf"
    response = page_check(text, "nota.txt")
    assert response.status_code == 200 and page_status(response) == "not_pdf"
    response = api_check(text, "nota.txt")
    assert response.status_code == 200
    assert response.json() == {
        "status": "not_pdf",
        "message": verify.messages()["not_pdf"],
        "document": None,
    }


def test_uploads_over_the_limit_are_refused(pki, media, settings):
    settings.TAMBO_MAX_FILE_BYTES = 100
    response = page_check(b"%PDF-1.7\n" + b"0" * 200)
    assert response.status_code == 422
    page = response.content.decode()
    assert 'class="error-summary"' in page and 'id="error-archivo"' in page
    response = api_check(b"%PDF-1.7\n" + b"0" * 200)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert response.json()["error"]["field"] == "file"


def test_the_upload_form_asks_for_a_file(pki, media):
    response = Client().post("/verificar/", {})
    assert response.status_code == 422
    page = response.content.decode()
    assert 'href="#field-archivo"' in page and 'id="error-archivo"' in page
    assert 'enctype="multipart/form-data"' in page


# --- Failures leave nothing behind --------------------------------------------------------------


def test_a_wrong_key_password_fails_cleanly_and_rolls_back_the_callers_transaction(
    pki, media, agency, settings
):
    settings.TAMBO_SIGNING_PASSWORD = "not-the-password"
    keys.clear_signer_cache()
    with pytest.raises(SigningUnavailable) as info, transaction.atomic():
        User.objects.create_user(username="written-before", password="x-long-password")
        issue(agency)
    assert isinstance(info.value, DocumentFailed)
    assert (info.value.status, info.value.code) == (503, "signing_unavailable")
    assert agency.code in info.value.message and "TAMBO_SIGNING_PASSWORD" in info.value.message
    assert not User.objects.filter(username="written-before").exists()
    assert not IssuedDocument.objects.exists()
    assert not AuditEntry.objects.filter(action="document.issued").exists()
    assert stored_files(media) == []


def test_a_missing_key_file_is_signing_unavailable(pki, media, agency, settings, tmp_path):
    settings.TAMBO_SIGNING_KEYS = tmp_path / "empty"
    keys.clear_signer_cache()
    with pytest.raises(SigningUnavailable) as info:
        issue(agency)
    assert f"{agency.code}.p12" in info.value.message
    assert not IssuedDocument.objects.exists() and stored_files(media) == []


def test_a_failure_after_the_file_was_stored_deletes_it(pki, media, agency, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(actions.audit, "record", broken)
    with pytest.raises(RuntimeError, match="audit log unavailable"):
        issue(agency)
    assert not IssuedDocument.objects.exists()
    assert stored_files(media) == []


def test_rendering_failure_is_document_failed(pki, media, agency, monkeypatch):
    def broken(html):
        raise DocumentFailed("No se pudo generar el PDF del documento.")

    monkeypatch.setattr(actions, "render_pdf", broken)
    with pytest.raises(DocumentFailed) as info:
        issue(agency)
    assert (info.value.status, info.value.code) == (503, "document_failed")
    with pytest.raises(DocumentFailed):
        issue(agency, template_name="documents/no-such-template.html")
    assert not IssuedDocument.objects.exists() and stored_files(media) == []


def test_the_callers_rollback_after_issuing_deletes_the_stored_file(pki, media, agency):
    class Abandon(Exception):
        pass

    with pytest.raises(Abandon), transaction.atomic():
        document = issue(agency)
        assert len(stored_files(media)) == 1
        raise Abandon
    assert not IssuedDocument.objects.filter(code=document.code).exists()
    assert stored_files(media) == []


@pytest.mark.django_db(transaction=True)
def test_with_real_transactions_commit_keeps_the_file_and_rollback_deletes_it(pki, media, agency):
    kept = issue(agency)  # its own outermost transaction: committed
    assert stored_files(media) == [media / kept.file.name]

    with pytest.raises(ZeroDivisionError), transaction.atomic():
        issue(agency, subject_id="MDSI-2026-0000043")
        1 / 0  # noqa: B018
    assert list(IssuedDocument.objects.values_list("code", flat=True)) == [kept.code]
    assert stored_files(media) == [media / kept.file.name]

    # A later on_commit callback of the caller that fails does not take a committed file.
    def failing_side_effect():
        raise ConnectionError("mail server down")

    with pytest.raises(ConnectionError), transaction.atomic():
        transaction.on_commit(failing_side_effect)
        second = issue(agency, subject_id="MDSI-2026-0000044")
    assert IssuedDocument.objects.filter(code=second.code).exists()
    assert media / second.file.name in stored_files(media)


def test_rendering_reads_no_local_file_or_url(tmp_path):
    from weasyprint import HTML

    secret = tmp_path / "secreto.svg"
    secret.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="40">'
        '<text x="0" y="30" font-size="20">CLAVESECRETA</text></svg>'
    )
    html = f'<html><body><p>Hola</p><img src="{secret.as_uri()}"></body></html>'

    def text_of(pdf: bytes) -> str:
        path = tmp_path / "out.pdf"
        path.write_bytes(pdf)
        return subprocess.run(
            ["/usr/bin/pdftotext", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout

    assert "CLAVESECRETA" in text_of(HTML(string=html).write_pdf())  # WeasyPrint's default
    assert "CLAVESECRETA" not in text_of(actions.render_pdf(html))


@pytest.mark.django_db(transaction=True)
def test_issue_pdf_needs_the_callers_transaction(pki, media, agency):
    with pytest.raises(RuntimeError, match="transaction"):
        actions.issue_pdf(
            agency=agency,
            kind="resolution",
            title="x",
            template_name=TEMPLATE,
            context={},
            subject_type="filing",
            subject_id=FILING,
            public_fields={},
            actor=None,
        )
    assert not IssuedDocument.objects.exists() and stored_files(media) == []


def test_public_fields_are_limited_to_what_the_kind_allows(pki, media, agency):
    with pytest.raises(ValueError, match="not allowed"):
        issue(agency, public_fields={"solicitante": APPLICANT})
    with pytest.raises(ValueError, match="identity number"):
        issue(agency, public_fields={"numero": f"DNI {APPLICANT_DNI}"})
    with pytest.raises(ValueError, match="not allowed"):
        issue(agency, kind="receipt", public_fields={"decision": "Aprobada"})
    assert not IssuedDocument.objects.exists() and stored_files(media) == []


# --- The code page and the code API ---------------------------------------------------------------


def test_the_code_page_shows_the_public_data_and_no_personal_data(pki, media, agency):
    document = issue(agency)
    response = Client().get(f"/verificar/{document.code}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Documento auténtico registrado" in page
    for shown in (agency.name, "Resolución", FILING, "045-2026-GDU/MDSI", "Aprobada"):
        assert shown in page
    assert format_code(document.code) in page
    for hidden in (APPLICANT, APPLICANT_DNI, ADDRESS, "Carla Mendoza", document.title):
        assert hidden not in page

    typed = format_code(document.code).lower()
    assert Client().get(f"/verificar/{typed}/").status_code == 200


def test_the_code_api_returns_public_fields_only_and_404_for_an_unknown_code(pki, media, agency):
    document = issue(agency)
    response = Client().get(f"/api/v1/verify/{document.code}")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == document.code
    assert body["public_fields"] == PUBLIC
    assert body["verification_url"].endswith(f"/verificar/{document.code}/")
    raw = response.content.decode()
    for hidden in (APPLICANT, APPLICANT_DNI, ADDRESS, document.title, document.sha256):
        assert hidden not in raw

    missing = Client().get("/api/v1/verify/ABCDEFGHJKMN")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_an_unknown_code_says_so(pki, media):
    response = Client().get("/verificar/ABCDEFGHJKMN/")
    assert response.status_code == 404
    assert "No encontramos un documento con ese código" in response.content.decode()


def test_the_verification_form_checks_the_typed_code(pki, media, agency):
    document = issue(agency)
    client = Client()
    page = client.get("/verificar/")
    assert page.status_code == 200
    assert 'id="field-codigo"' in page.content.decode()
    assert 'id="field-archivo"' in page.content.decode()

    bad = client.get("/verificar/", {"codigo": "12"})
    assert bad.status_code == 422
    html = bad.content.decode()
    assert 'class="error-summary"' in html and 'href="#field-codigo"' in html
    assert 'id="error-codigo"' in html and "input--error" in html

    empty = client.get("/verificar/", {"codigo": ""})
    assert empty.status_code == 422

    found = client.get("/verificar/", {"codigo": format_code(document.code).lower()})
    assert found.status_code == 302 and found["Location"] == f"/verificar/{document.code}/"


def test_codes_are_normalised():
    assert normalize_code(" abcd-efgh-jkmn ") == "ABCDEFGHJKMN"
    assert normalize_code("ABCD EFGH JKM0") is None  # 0 is not in the alphabet
    assert normalize_code("ABCDEFGHJKM") is None
    assert normalize_code(None) is None


# --- Keys ------------------------------------------------------------------------------------


def test_keys_demo_creates_a_ca_and_one_key_per_agency_and_is_idempotent(
    catalog, settings, tmp_path
):
    directory = tmp_path / "keys"
    settings.TAMBO_SIGNING_KEYS = directory
    keys.clear_signer_cache()
    out = io.StringIO()
    call_command("keys", "demo", stdout=out)
    agencies = dict(Agency.objects.values_list("code", "name"))
    expected = {"ca.pem", "ca-key.pem", *(f"{code}.p12" for code in agencies)}
    assert {p.name for p in directory.iterdir()} == expected
    assert f"{len(expected)} created" in out.getvalue()
    before = {p.name: p.read_bytes() for p in directory.iterdir()}

    again = io.StringIO()
    call_command("keys", "demo", stdout=again)
    assert "0 created" in again.getvalue()
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before

    ca = x509.load_pem_x509_certificate(before["ca.pem"])
    assert ca.subject == ca.issuer
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Tambo Demo CA"
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert 365 * 10 <= lifetime.days <= 365 * 10 + 5

    code, name = "MDSI", agencies["MDSI"]
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(before[f"{code}.p12"], b"wrong")
    _key, cert, chain = pkcs12.load_key_and_certificates(before[f"{code}.p12"], b"tambo-demo-keys")
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == name
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == code
    assert cert.issuer == ca.subject
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    ca.public_key().verify(
        cert.signature, cert.tbs_certificate_bytes, *_verify_args(cert)
    )  # raises if the CA did not sign it
    assert [c.subject for c in chain] == [ca.subject]

    signer = keys.load_signer(code)
    assert signer is keys.load_signer(code)  # cached per process
    keys.clear_signer_cache()


def _verify_args(cert: x509.Certificate) -> tuple:
    from cryptography.hazmat.primitives.asymmetric import padding

    return (padding.PKCS1v15(), cert.signature_hash_algorithm)


@pytest.mark.parametrize(
    ("password", "starts"), [(None, False), ("tambo-demo-keys", False), ("s3cr3t-largo", True)]
)
def test_production_settings_require_a_signing_password(password, starts, tmp_path):
    import os
    import sys

    from tambo.core import keyfile

    keyfile.create(tmp_path / "checkpoint.pem")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAMBO_")}
    env.update(
        {
            "TAMBO_SECRET_KEY": "x" * 50,
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/tambo",
            "TAMBO_CHECKPOINT_KEY": str(tmp_path / "checkpoint.pem"),
        }
    )
    if password is not None:
        env["TAMBO_SIGNING_PASSWORD"] = password
    run = subprocess.run(
        [sys.executable, "-c", "import tambo.settings.production"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (run.returncode == 0) is starts, run.stderr
    if not starts:
        assert "TAMBO_SIGNING_PASSWORD" in run.stderr


def test_a_new_agency_gets_a_key_from_the_existing_ca(tmp_path):
    first = keys.create_demo_pki(tmp_path, {"AAA": "Entidad A"}, password="secret-one")
    ca_before = (tmp_path / "ca.pem").read_bytes()
    second = keys.create_demo_pki(
        tmp_path, {"AAA": "Entidad A", "BBB": "Entidad B"}, password="secret-one"
    )
    assert sorted(first.created) == ["AAA.p12", "ca-key.pem", "ca.pem"]
    assert second.created == ["BBB.p12"]
    assert (tmp_path / "ca.pem").read_bytes() == ca_before
    _key, cert, _chain = pkcs12.load_key_and_certificates(
        (tmp_path / "BBB.p12").read_bytes(), b"secret-one"
    )
    assert cert.issuer == x509.load_pem_x509_certificate(ca_before).subject


def test_an_agency_may_have_its_own_key_password(monkeypatch, settings):
    from tambo.documents.keys import agency_password

    assert agency_password("MDSI") == settings.TAMBO_SIGNING_PASSWORD
    monkeypatch.setenv("TAMBO_SIGNING_KEY_MDSI_PASSWORD", "solo-de-la-municipalidad")
    assert agency_password("MDSI") == "solo-de-la-municipalidad"
    assert agency_password("MTC") == settings.TAMBO_SIGNING_PASSWORD
