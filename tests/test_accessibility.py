"""axe-core finds no WCAG 2.2 A/AA violation on any citizen page or main official page, in es, qu, en.

Each page is reached the way a person reaches it (forms are submitted, error states are the
server's real answers to empty or wrong input); axe-core from npm (package.json) is injected
into the page and run with the tags wcag2a, wcag2aa, wcag21a, wcag21aa and wcag22aa.
"""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.utils import translation
from django.views import defaults

from .site_pages import (
    LANGUAGES,
    axe_violations,
    browser,
    build_site,
    describe,
    login,
    new_page,
    not_a_pdf,
    png_scan,
    unsigned_pdf,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def unlinked_errors(page) -> list[str]:
    """Error-summary links whose target field is missing from the page."""
    hrefs = page.eval_on_selector_all(
        ".error-summary a[href^='#']",
        "links => links.filter(a => !document.getElementById(a.hash.slice(1)))"
        ".map(a => a.getAttribute('href'))",
    )
    return [f"error summary link {href} points at no field" for href in hrefs]


def server_error_html(lang: str) -> str:
    """The real 500 handler's page, rendered as it is when a view fails."""
    with translation.override(lang):
        return defaults.server_error(RequestFactory().get("/")).content.decode()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_citizen_and_main_official_page_has_no_wcag22_aa_violation(
    live_server, catalog, lang
):
    site = build_site(catalog, [lang])
    error_page = server_error_html(lang)
    base = live_server.url
    proc_url = f"{base}/tramites/{site.agency}/{site.procedure}/"
    failures: dict[str, list[str]] = {}
    visited: list[str] = []

    def check(page, name: str) -> None:
        page.wait_for_load_state("load")
        found = axe_violations(page) + unlinked_errors(page)
        visited.append(name)
        if found:
            failures[f"{lang} {name} ({page.url})"] = found

    with browser() as chromium:
        anonymous = new_page(chromium, base, lang)
        anonymous.goto(f"{base}/")
        check(anonymous, "home")
        topic = anonymous.locator("a.card[href*='tema=']").first.get_attribute("href")
        anonymous.goto(f"{base}{topic}")
        check(anonymous, "catalogue by topic")
        anonymous.goto(f"{base}/entidades/{site.agency}/")
        check(anonymous, "catalogue by agency")
        anonymous.goto(f"{base}/tramites/?q=licencia")
        check(anonymous, "search with results")
        anonymous.goto(f"{base}/tramites/?q=zzqqxxnada")
        check(anonymous, "search without results")
        anonymous.goto(proc_url)
        check(anonymous, "procedure page")
        anonymous.goto(f"{base}/consulta/")
        check(anonymous, "status lookup form")
        with anonymous.expect_navigation():
            anonymous.click("main button[type=submit]")
        check(anonymous, "status lookup with errors")
        anonymous.fill("#field-numero", site.approved)
        anonymous.fill("#field-codigo", site.approved_access_code)
        with anonymous.expect_navigation():
            anonymous.click("main button[type=submit]")
        assert anonymous.locator(".timeline").count() == 1
        check(anonymous, "status lookup result")
        anonymous.goto(f"{base}/verificar/")
        check(anonymous, "verification form")
        anonymous.goto(f"{base}/verificar/?codigo=no-es-un-codigo")
        check(anonymous, "verification code error")
        anonymous.goto(f"{base}/verificar/{site.document_code}/")
        check(anonymous, "verification: valid code")
        anonymous.goto(f"{base}/verificar/AAAA-BBBB-CCCC/")
        check(anonymous, "verification: unknown code")
        anonymous.goto(f"{base}/verificar/")
        anonymous.set_input_files(
            "#field-archivo",
            {"name": "r.pdf", "mimeType": "application/pdf", "buffer": site.document_pdf},
        )
        with anonymous.expect_navigation():
            anonymous.click("form[enctype] button[type=submit]")
        assert anonymous.locator("#resultado[data-status=authentic]").count() == 1
        check(anonymous, "verification: authentic PDF")
        anonymous.set_input_files("#field-archivo", unsigned_pdf())
        with anonymous.expect_navigation():
            anonymous.click("form[enctype] button[type=submit]")
        check(anonymous, "verification: invalid PDF")
        anonymous.goto(f"{base}/ingresar/")
        check(anonymous, "login")
        anonymous.fill("#field-username", "ana")
        anonymous.fill("#field-password", "not-the-password")
        with anonymous.expect_navigation():
            anonymous.click("main button[type=submit]")
        assert anonymous.locator(".error-summary").count() == 1
        check(anonymous, "login error")
        anonymous.goto(f"{base}/no-existe/")
        check(anonymous, "404")
        anonymous.route(
            f"{base}/error-500/",
            lambda route: route.fulfill(
                status=500, content_type="text/html; charset=utf-8", body=error_page
            ),
        )
        anonymous.goto(f"{base}/error-500/")
        check(anonymous, "500")

        citizen = new_page(chromium, base, lang)
        login(citizen, base, "ana")
        citizen.goto(proc_url)
        with citizen.expect_navigation():
            citizen.click("main form button[type=submit]")
        check(citizen, "filing: question page")
        with citizen.expect_navigation():
            citizen.click("button[name=continue]")
        assert citizen.locator(".error-summary").count() == 1
        check(citizen, "filing: question page with errors")
        citizen.goto(f"{base}/borradores/{site.drafts[f'complete-{lang}']}/")
        file_input = citizen.locator("input[type=file]").first
        file_input.set_input_files(not_a_pdf())
        with citizen.expect_navigation():
            citizen.click("button[name=continue]")
        assert citizen.locator(".error-summary").count() == 1
        check(citizen, "filing: upload with an error")
        citizen.goto(f"{base}/borradores/{site.drafts[f'complete-{lang}']}/revisar/")
        check(citizen, "filing: check your answers")
        with citizen.expect_navigation():
            citizen.click("main form[data-prevent-double-submit] button")
        assert "/cargo/" in citizen.url
        check(citizen, "filing: receipt")
        citizen.goto(f"{base}/mis-expedientes/")
        check(citizen, "my expedientes")
        citizen.goto(f"{base}/expedientes/{site.approved}/")
        check(citizen, "expediente detail")
        citizen.goto(f"{base}/casilla/")
        check(citizen, "casilla")
        citizen.goto(f"{base}/casilla/{site.notice_id}/")
        check(citizen, "casilla notice")
        citizen.goto(f"{base}/oficina/")
        check(citizen, "403")

        official = new_page(chromium, base, lang)
        login(official, base, "carla", site.official_device, check)
        official.goto(f"{base}/oficina/")
        check(official, "office home")
        official.click("a.card >> nth=0")
        official.wait_for_url("**/bandeja/**")
        check(official, "office queue")
        official.goto(f"{base}/oficina/expedientes/{site.open_case}/")
        check(official, "office case page")
        with official.expect_navigation():
            official.click("#action-observe button[type=submit]")
        assert official.locator(".error-summary").count() == 1
        check(official, "office decision form with an error")
        official.goto(f"{base}/oficina/delegaciones/")
        assert official.locator("form[id^=revoke-]").count() == 1
        check(official, "office delegations")
        with official.expect_navigation():
            official.click("main form[action$='/oficina/delegaciones/'] button[type=submit]")
        assert official.locator(".error-summary").count() == 1
        check(official, "office delegations with an error")
        official.goto(f"{base}/oficina/personal/")
        check(official, "office staff second factor")

        # Assisted filing and accounts created at the desk (an intermediary), then the
        # person's activation link.
        helper = new_page(chromium, base, lang)
        login(helper, base, "tambo_mesa", site.intermediary_device)
        helper.goto(f"{base}/asistido/")
        check(helper, "assisted filing home")
        helper.goto(f"{base}/asistido/{site.agency}/ACCESO-INFORMACION/")
        check(helper, "assisted filing: identify the person")
        helper.fill("#field-document_number", "99999999")
        with helper.expect_navigation():
            helper.click("main button[type=submit]")
        assert helper.locator(".error-summary").count() == 1
        check(helper, "assisted filing: unknown document")
        helper.fill("#field-document_number", "41234567")
        helper.check("#method-email")
        with helper.expect_navigation():
            helper.click("main button[type=submit]")
        check(helper, "assisted filing: consent code")
        helper.fill("#field-code", "000000")
        with helper.expect_navigation():
            helper.click("main button[type=submit]")
        assert helper.locator(".error-summary").count() == 1
        check(helper, "assisted filing: wrong code")
        helper.goto(f"{base}/asistido/cuentas/nueva/")
        check(helper, "desk account form")
        with helper.expect_navigation():
            helper.click("main button[type=submit]")
        assert helper.locator(".error-summary").count() == 1
        check(helper, "desk account form with errors")
        helper.fill("#field-document_number", "46666666")
        helper.fill("#field-first_name", "Teodora")
        helper.fill("#field-last_name", "Huamán")
        helper.fill("#field-email", "teodora@example.pe")
        helper.check("#method-paper")
        helper.set_input_files("#field-scan", png_scan())
        with helper.expect_navigation():
            helper.click("main button[type=submit]")
        assert "/asistido/cuentas/" in helper.url and helper.locator(".panel").count() == 1
        check(helper, "desk account created")

        person = new_page(chromium, base, lang)
        person.goto(f"{base}/cuenta/activar/{site.activation_token}/")
        check(person, "account activation")
        person.fill("#field-password1", "una-clave-larga-9")
        person.fill("#field-password2", "otra-distinta-9")
        with person.expect_navigation():
            person.click("main button[type=submit]")
        assert person.locator(".error-summary").count() == 1
        check(person, "account activation with an error")
        person.goto(f"{base}/cuenta/activar/no-sirve/")
        check(person, "account activation: link gone")

    assert len(visited) == 48, visited
    assert not failures, "axe-core found WCAG 2.2 A/AA violations:\n" + describe(failures)


@pytest.mark.parametrize(
    ("lang", "heading"),
    [
        ("es", "Lo sentimos, hay un problema con el servicio"),
        ("en", "Sorry, there is a problem with the service"),
    ],
)
def test_the_500_page_speaks_the_visitors_language_without_the_database(lang, heading):
    html = server_error_html(lang)
    assert f'<html lang="{lang}">' in html
    assert f'<h1 class="heading-xl">{heading}</h1>' in html
    assert 'rel="stylesheet" href="/static/css/tambo' in html
