"""Citizen pages work with JavaScript off, and long or right-to-left text does not break a 320 px layout."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from tambo.cases import actions
from tambo.cases.models import Filing
from tambo.catalog.loader import load_directory
from tambo.demo.samples import MINIMAL_PDF
from tambo.settings.base import BASE_DIR

from .conftest import answers_for, procedure
from .site_pages import browser, build_site, login, new_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_WORD = "Sinespaciosniguionesniningúnpuntodecorte" * 3  # 120: the field maximum
RIGHT_TO_LEFT = "طلب ترخيص تشغيل محل تجاري صغير في سان إيسيدرو עברית ארוכה"


def test_no_template_or_static_file_ships_javascript_beyond_the_officials_session_warning():
    """The pages are plain HTML and CSS: nothing to break when a browser runs no script.

    The one exception is the officials' idle-session warning (``static/js/session.js``, from
    ``includes/session_notice.html``), a progressive enhancement of a notice and a button that
    work without it (tests/test_session_timeout.py); citizens never get it.
    """
    templates = [p for p in BASE_DIR.rglob("*.html") if "templates" in p.parts]
    assert len(templates) > 20
    scripted = [
        p.relative_to(BASE_DIR).as_posix()
        for p in templates
        if re.search(r"<script|\son[a-z]+=|javascript:", p.read_text(), re.IGNORECASE)
    ]
    assert scripted == ["templates/includes/session_notice.html"], scripted
    include = (BASE_DIR / "templates" / "includes" / "session_notice.html").read_text()
    assert include.count("<script") == 1 and "{% static 'js/session.js' %}" in include
    base = (BASE_DIR / "templates" / "base.html").read_text()
    assert '{% if session_timeout %}{% include "includes/session_notice.html" %}' in base
    scripts = [p.relative_to(BASE_DIR).as_posix() for p in BASE_DIR.glob("**/static/**/*.js")]
    assert scripts == ["static/js/session.js"], scripts


def test_a_citizen_files_uploads_and_reads_the_casilla_with_javascript_off(live_server, catalog):
    site = build_site(catalog, ["es"])
    base = live_server.url
    proc = procedure(site.upload_procedure, site.agency)
    answers = answers_for(proc)
    with browser() as chromium:
        page = new_page(chromium, base, "es", java_script_enabled=False)
        login(page, base, "ana")
        page.goto(f"{base}/tramites/{site.agency}/{site.procedure}/")
        with page.expect_navigation():
            page.click("main form button[type=submit]")
        with page.expect_navigation():
            page.click("button[name=continue]")
        assert page.locator(".error-summary").count() == 1
        for field in proc.current_version.file.form:
            value = answers.get(field.name)
            if field.type == "file":
                page.set_input_files(
                    f"#field-{field.name}",
                    {"name": "plano.pdf", "mimeType": "application/pdf", "buffer": MINIMAL_PDF},
                )
            elif field.type == "yes_no":
                page.check(f"#{field.name}-{'yes' if value in (True, 'yes') else 'no'}")
            elif field.type == "choice":
                index = [c.value for c in field.choices].index(value) + 1
                page.check(f"#{field.name}-{index}")
            elif value is not None:
                page.fill(f"#field-{field.name}", str(value))
        with page.expect_navigation():
            page.click("button[name=continue]")
        page.wait_for_url(re.compile(r"/revisar/(#.*)?$"))
        with page.expect_navigation():
            page.click("main form[data-prevent-double-submit] button")
        page.wait_for_url(re.compile(r"/cargo/$"))
        number = page.locator(".panel__body strong").inner_text()
        page.goto(f"{base}/casilla/{site.notice_id}/")
        notice = page.locator("main").inner_text()
        page.goto(f"{base}/consulta/")
        page.fill("#field-numero", site.approved)
        page.fill("#field-codigo", site.approved_access_code)
        with page.expect_navigation():
            page.click("main button[type=submit]")
        status = page.locator("main").inner_text()
    filing = Filing.objects.get(number=number)
    assert filing.citizen.username == "ana"
    assert filing.documents.count() == sum(
        1 for f in proc.current_version.file.form if f.type == "file"
    )
    assert site.approved in notice
    assert site.approved in status


def publish_a_procedure_named(name: str, directory: Path) -> str:
    """Load the demo catalogue plus a copy of one procedure under ``name``; return its code."""
    shutil.copytree(settings.TAMBO_CATALOG_DIR, directory)
    source = (directory / "procedures" / "MDSI" / "ACCESO-INFORMACION.yaml").read_text()
    copy = source.replace("code: ACCESO-INFORMACION", "code: NOMBRE-LARGO").replace(
        "  es: Solicitar acceso a la información pública de la Municipalidad de San Isidro",
        f"  es: {name}",
    )
    assert copy.count("NOMBRE-LARGO") == 1 and name in copy
    (directory / "procedures" / "MDSI" / "NOMBRE-LARGO.yaml").write_text(copy)
    load_directory(directory)
    return "NOMBRE-LARGO"


def test_long_and_right_to_left_text_does_not_scroll_a_320_px_page_sideways(
    live_server, catalog, tmp_path
):
    site = build_site(catalog, ["es"])
    long_code = publish_a_procedure_named(f"{LONG_WORD} {RIGHT_TO_LEFT}", tmp_path / "catalog")
    from tambo.identity.models import User

    citizen = User.objects.get(username="ana")
    proc = procedure(site.procedure, site.agency)
    draft = actions.start_draft(citizen, proc.current_version)
    answers = answers_for(proc)
    texts = [f for f in proc.current_version.file.form if f.type in {"text", "address"}]
    assert len(texts) >= 2
    answers[texts[0].name] = LONG_WORD
    answers[texts[1].name] = RIGHT_TO_LEFT
    actions.save_answers(citizen, draft.pk, answers)
    base = live_server.url
    pages = [
        f"/borradores/{draft.pk}/",
        f"/borradores/{draft.pk}/revisar/",
        f"/tramites/?q={LONG_WORD}",
        f"/tramites/{site.agency}/{site.procedure}/",
        f"/tramites/{site.agency}/{long_code}/",
        f"/entidades/{site.agency}/",
        "/tramites/?q=informacion",
        f"/expedientes/{site.approved}/",
        "/mis-expedientes/",
        f"/casilla/{site.notice_id}/",
        f"/verificar/?codigo={LONG_WORD}",
    ]
    too_wide = {}
    with browser() as chromium:
        page = new_page(chromium, base, "es", viewport={"width": 320, "height": 640})
        login(page, base, "ana")
        for path in pages:
            page.goto(f"{base}{path}")
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 320:
                too_wide[path] = width
        page.goto(f"{base}/tramites/{site.agency}/{long_code}/")
        heading = page.locator("h1").inner_text()
        assert LONG_WORD in heading and RIGHT_TO_LEFT in heading
        # The filed version: the same answers on the receipt and the official's case page.
        page.goto(f"{base}/borradores/{draft.pk}/revisar/")
        assert LONG_WORD in page.content() and RIGHT_TO_LEFT in page.content()
        with page.expect_navigation():
            page.click("main form[data-prevent-double-submit] button")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 320:
            too_wide["receipt"] = width
    assert not too_wide, f"pages wider than 320 px (horizontal scroll): {too_wide}"
