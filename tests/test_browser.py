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
        page = browser.new_page(locale="es-PE")
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


def test_official_observes_citizen_corrects_official_approves_citizen_reads_and_verifies(
    live_server, catalog
):
    from tambo.cases import actions

    from .conftest import make_official, procedure

    proc = procedure("LF-RIESGO-BAJO", "MDSI")
    citizen = make_citizen("vecina", "44455566")
    from .conftest import enrol_totp, totp_code

    device = enrol_totp(make_official("funcionaria", "MDSI", ["front_desk", "evaluator", "signer"]))
    draft = actions.start_draft(citizen, proc.current_version)
    actions.save_answers(citizen, draft.pk, answers_for(proc))
    for field in proc.current_version.file.form:
        if field.type == "file":
            from .conftest import pdf_upload

            actions.attach_document(citizen, draft.pk, field.name, pdf_upload(), "doc.pdf")
    number = actions.submit_draft(citizen, draft.pk).filing.number
    base = live_server.url
    from playwright.sync_api import sync_playwright

    def login(page, username, device=None):
        page.goto(f"{base}/ingresar/")
        page.fill("#field-username", username)
        page.fill("#field-password", "a-long-test-password")
        with page.expect_navigation():
            page.click("main button[type=submit]")
        if device is not None:  # officials: the second factor, with a real TOTP code
            assert page.locator("h1").inner_text() == "Confirme que es usted"
            page.fill("#field-code", totp_code(device, refresh=False))
            with page.expect_navigation():
                page.click("main button[type=submit]")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        official = browser.new_context(locale="es-PE").new_page()
        person = browser.new_context(locale="es-PE").new_page()
        login(official, "funcionaria", device)
        login(person, "vecina")
        case_url = f"{base}/oficina/expedientes/{number}/"
        official.goto(case_url)
        official.fill("#field-observe-reason", "Falta la firma en la declaración jurada.")
        with official.expect_navigation():
            official.click("#action-observe button[type=submit]")
        observed_banner = official.locator(".notification-banner").inner_text()

        person.goto(f"{base}/expedientes/{number}/")
        correction_notice = person.locator(".inset-text").inner_text()
        person.fill("#field-correct-reason", "Adjunto la declaración firmada.")
        with person.expect_navigation():
            person.click("#action-correct button[type=submit]")

        official.goto(case_url)
        with official.expect_navigation():
            official.click("#action-admit button[type=submit]")
        official.fill("#field-propose-report", "Cumple los requisitos.")
        with official.expect_navigation():
            official.click("#action-propose button[type=submit]")
        official.fill("#field-approve-reason", "Cumple los requisitos y la zonificación.")
        with official.expect_navigation():
            official.click("#action-approve button[type=submit]")
        final_state = official.locator(".tag").first.inner_text()
        assert final_state == "Aprobado", official.locator("main").inner_text()[:1500]

        person.goto(f"{base}/casilla/")
        unread = person.locator("tbody tr").first.inner_text()
        assert "Aprobado" in unread, person.locator("main").inner_text()[:2000]
        with person.expect_navigation():
            person.locator("tbody tr a").first.click()
        notice_text = person.locator("main").inner_text()
        with person.expect_navigation():
            person.locator("a.code").click()
        verification = person.locator("main").inner_text()
        browser.close()

    assert "Observado" in observed_banner
    assert "subsanar" in correction_notice
    assert final_state == "Aprobado"
    assert "Sin leer" in unread and "Aprobado" in unread
    assert "Cumple los requisitos y la zonificación." in notice_text
    assert number in verification
    assert "vecina" not in verification.lower() and "44455566" not in verification
