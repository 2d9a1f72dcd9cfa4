"""Security headers and CSP on every page, no inline script or style, CSRF on every form,
downloads that are never rendered from our origin, and ``check --deploy`` clean in production.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest
from django.test import Client
from django.urls import reverse

from tambo.core.downloads import content_disposition, safe_filename

from .conftest import REPO, answers_for, without_file_field
from .test_documents import issue, pki, shared_keys_dir  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

TEMPLATES = sorted((REPO / "tambo").rglob("templates/**/*.html"))
# Rendered to PDF by WeasyPrint, never served as HTML: their <style> is the document's own.
PDF_TEMPLATES = {
    "cases/receipt_pdf.html",
    "cases/evidence_certificate_pdf.html",
    "cases/documents/resolution.html",
    "cases/documents/silence_certificate.html",
    "documents/sample_resolution_pdf.html",
    "documents/_verification_footer.html",
}


def template_name(path: Path) -> str:
    return str(path).split("/templates/", 1)[1]


def web_templates() -> list[Path]:
    return [p for p in TEMPLATES if template_name(p) not in PDF_TEMPLATES]


def csp(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {
        part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2]
        for part in header.split(";")
        if part.strip()
    }


def assert_page_headers(response) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    policy = csp(response)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["form-action"].split()[0] == "'self'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]


def test_every_kind_of_page_carries_the_security_headers_and_the_strict_csp(
    client, web, citizen, catalog
):
    proc = without_file_field(catalog)
    anonymous = [
        "/",
        reverse("catalog:search"),
        reverse("catalog:procedure", args=[proc.agency.code, proc.code]),
        reverse("cases:status_lookup"),
        reverse("documents:verify"),
        reverse("identity:login"),
        "/no-such-page/",
        "/api/v1/agencies",
        "/api/v1/docs",
    ]
    for url in anonymous:
        response = client.get(url)
        assert response.status_code in {200, 404}, url
        assert_page_headers(response)
    for url in [reverse("cases:my_filings"), reverse("inbox:inbox")]:
        response = web.get(url)
        assert response.status_code == 200, url
        assert_page_headers(response)


def test_the_form_action_sources_are_configurable(settings, client, catalog):
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {**directives, "form-action": ["'self'", "https://idp.example.gob.pe"]}
    }
    response = client.get(reverse("identity:login"))
    assert csp(response)["form-action"] == "'self' https://idp.example.gob.pe"


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", re.IGNORECASE)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
JS_URL = re.compile(r"(href|src|action)\s*=\s*[\"']?\s*javascript:", re.IGNORECASE)


def test_the_scan_catches_what_it_is_meant_to_catch():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not INLINE_SCRIPT.search('<script src="/static/a.js"></script>')
    assert HANDLER.search('<button onclick="x()">')
    assert STYLE.search('<p style="color:red">') and STYLE.search("<style>p{}</style>")
    assert JS_URL.search('<a href="javascript:alert(1)">')


@pytest.mark.parametrize("path", web_templates(), ids=template_name)
def test_no_template_has_inline_script_handlers_or_styles(path):
    text = path.read_text(encoding="utf-8")
    for pattern in (INLINE_SCRIPT, HANDLER, STYLE, JS_URL):
        found = pattern.search(text)
        assert found is None, f"{template_name(path)}: {text[found.start() : found.start() + 60]!r}"


POST_FORM = re.compile(r"<form\b[^>]*method=[\"']?post[\"']?[^>]*>(.*?)</form>", re.I | re.S)


def test_every_post_form_in_every_template_has_a_csrf_token():
    forms = 0
    for path in TEMPLATES:
        for body in POST_FORM.findall(path.read_text(encoding="utf-8")):
            forms += 1
            assert "{% csrf_token %}" in body, template_name(path)
    assert forms >= 10  # the scan did find the forms


def test_a_post_without_the_csrf_token_gets_the_clear_403_page(citizen, catalog):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("cases:status_lookup"), {"numero": "X", "codigo": "Y"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "No pudimos recibir el formulario" in html
    assert "CSRF" not in html and "Traceback" not in html and "Reason given" not in html
    assert_page_headers(response)
    strict.force_login(citizen)
    proc = without_file_field(catalog)
    response = strict.post(reverse("cases:start", args=[proc.agency.code, proc.code]))
    assert response.status_code == 403
    from tambo.cases.models import Draft

    assert not Draft.objects.exists()


def test_the_session_authenticated_api_needs_the_csrf_token_but_bearer_tokens_do_not(
    citizen, api, catalog
):
    proc = without_file_field(catalog)
    body = {"agency": proc.agency.code, "procedure": proc.code}
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(citizen)
    response = strict.post("/api/v1/drafts", body, content_type="application/json")
    assert response.status_code == 403
    response = api.post("/api/v1/drafts", body, content_type="application/json")
    assert response.status_code == 201


# --- downloads ---------------------------------------------------------------------------


def assert_download(response, filename: str) -> None:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert f'filename="{filename}"' in disposition
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == filename
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(b"%PDF-")


def test_receipts_download_as_sandboxed_attachments_on_the_web_and_the_api(web, api, catalog):
    proc = without_file_field(catalog)
    filed = api.post(
        "/api/v1/filings",
        {"agency": proc.agency.code, "procedure": proc.code, "answers": answers_for(proc)},
        content_type="application/json",
    )
    number = filed.json()["number"]
    assert_download(api.get(f"/api/v1/filings/{number}/receipt.pdf"), f"cargo-{number}.pdf")
    web.force_login(filed.wsgi_request.user)
    assert_download(web.get(reverse("cases:receipt_pdf", args=[number])), f"cargo-{number}.pdf")


def test_issued_documents_download_as_sandboxed_attachments(pki, api, web, catalog):  # noqa: F811
    from tambo.catalog.models import Agency

    proc = without_file_field(catalog)
    filed = api.post(
        "/api/v1/filings",
        {"agency": proc.agency.code, "procedure": proc.code, "answers": answers_for(proc)},
        content_type="application/json",
    )
    number = filed.json()["number"]
    document = issue(Agency.objects.get(code=proc.agency.code), subject_id=number)
    response = web.get(reverse("cases:issued_document", args=[number, document.code]))
    assert_download(response, f"{document.code}.pdf")


def test_download_names_are_safe_and_exact():
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("a\u202eb\x00c.pdf") == "abc.pdf"
    assert safe_filename("..") == "documento"
    header = content_disposition("Resolución N° 5.pdf")
    assert header.startswith('attachment; filename="Resolucion_N_5.pdf"; ')
    assert unquote(header.split("''", 1)[1]) == "Resolución N° 5.pdf"
    assert '"' not in content_disposition('a"b.pdf').split("filename=", 1)[1].split(";")[0][1:-1]


# --- production settings -----------------------------------------------------------------


def test_check_deploy_is_clean_with_the_production_settings(tmp_path):
    from tambo.core import keyfile

    keyfile.create(tmp_path / "checkpoint.pem")  # production refuses to start without it
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAMBO_", "DJANGO_"))} | {
        "TAMBO_CHECKPOINT_KEY": str(tmp_path / "checkpoint.pem"),
        "DJANGO_SETTINGS_MODULE": "tambo.settings.production",
        "TAMBO_SECRET_KEY": "k" * 20 + "-production-like-secret-of-fifty-plus-characters",
        "DATABASE_URL": "postgres://tambo@127.0.0.1:1/tambo",
        "TAMBO_SIGNING_PASSWORD": "not-the-demo-password",
        "TAMBO_ALLOWED_HOSTS": "tramites.example.gob.pe",
    }
    result = subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    # The one silenced check (HSTS preload) is explained in the production settings.
    settings_text = (REPO / "tambo" / "settings" / "production.py").read_text()
    assert "security.W021" in settings_text and "Silenced on purpose" in settings_text
