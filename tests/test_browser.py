"""A citizen in a real browser (Debian's Chromium via Playwright): fill, upload a PDF, file, see the receipt."""

from __future__ import annotations

import os

import pytest

from tambo.cases.models import Filing
from tambo.demo.samples import MINIMAL_PDF

from .conftest import answers_for, make_citizen, with_file_field

CHROMIUM = os.environ.get("TAMBO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_citizen_fills_a_form_uploads_a_pdf_files_it_and_sees_the_receipt(
    live_server, catalog, tmp_path
):
    proc = with_file_field(catalog)
    make_citizen("navegador", "43334445")
    form = proc.current_version.file.form
    answers = answers_for(proc)
    pdf = tmp_path / "documento.pdf"
    pdf.write_bytes(MINIMAL_PDF)
    url = f"{live_server.url}/tramites/{proc.agency.code}/{proc.code}/"

    # ORM work stays outside the Playwright block (its event loop makes Django refuse sync queries).
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        page.goto(f"{live_server.url}/ingresar/?next=/tramites/{proc.agency.code}/{proc.code}/")
        page.fill("#field-username", "navegador")
        page.fill("#field-password", "a-long-test-password")
        page.click("button[type=submit] >> text=Ingresar")
        page.wait_for_url(url)
        page.click("text=Empezar ahora")
        page.wait_for_selector("form[enctype='multipart/form-data']")
        for field in form:
            value = answers.get(field.name)
            if field.type == "file":
                page.set_input_files(f"#field-{field.name}", str(pdf))
            elif field.type == "yes_no":
                page.check(f"#{field.name}-{'yes' if value in (True, 'yes') else 'no'}")
            elif field.type == "choice":
                index = [c.value for c in field.choices].index(value) + 1
                page.check(f"#{field.name}-{index}")
            elif value is not None:
                page.fill(f"#field-{field.name}", str(value))
        page.click("button[name=continue]")
        page.wait_for_url("**/revisar/")
        assert page.locator("h1").inner_text().startswith("Revise sus respuestas")
        assert "documento.pdf" in page.content()
        page.click("button >> text=Presentar")
        page.wait_for_url("**/cargo/")
        heading = page.locator("h1").inner_text()
        number = page.locator(".panel__body strong").inner_text()
        receipt_html = page.content()
        browser.close()

    assert heading == "Solicitud presentada"
    filing = Filing.objects.get(number=number)
    assert filing.citizen.username == "navegador"
    documents = list(filing.documents.all())
    assert len(documents) == sum(1 for f in form if f.type == "file")
    for document in documents:
        assert document.original_name == "documento.pdf"
        assert document.sha256 in receipt_html
