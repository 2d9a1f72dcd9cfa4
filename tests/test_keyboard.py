"""A citizen files a procedure with the keyboard only, and sees where the focus is at every stop.

Only ``keyboard.press`` and ``keyboard.type`` drive the pages (Tab, Shift+Tab, Enter, Space and
typing): no click, no fill. At each focus stop the focused element must show the focus colour
(#fd0) as an outline, a background or a ring; the error summary's links must move the focus
to the field they name.
"""

from __future__ import annotations

import re

import pytest

from tambo.cases.models import Filing

from .conftest import make_citizen, procedure
from .site_pages import browser, new_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOCUS_COLOUR = "rgb(255, 221, 0)"
FOCUS_STATE = """(colour) => {
    const el = document.activeElement;
    if (!el || el === document.body) return {visible: false, what: 'nothing focused'};
    const ring = (s) => (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2
                         && s.outlineColor === colour)
                        || s.backgroundColor === colour || s.boxShadow.includes(colour);
    let style = getComputedStyle(el);
    if ((el.type === 'radio' || el.type === 'checkbox') && el.labels && el.labels.length) {
        style = getComputedStyle(el.labels[0], '::before');
    }
    const name = (el.id ? '#' + el.id : '') + (el.name ? '[name=' + el.name + ']' : '');
    return {visible: ring(style), id: el.id, name: el.name || '', type: el.type || '',
            tag: el.tagName.toLowerCase(),
            what: el.tagName.toLowerCase() + name + ' "' + (el.innerText || el.value || '').trim().slice(0, 40) + '"'};
}"""
MAX_STOPS = 80


def focus(page) -> dict:
    return page.evaluate(FOCUS_STATE, FOCUS_COLOUR)


def tab_until(page, wanted, stops: list[str], key: str = "Tab") -> dict:
    """Press Tab until ``wanted(focus)`` holds; every stop on the way must show its focus."""
    for _ in range(MAX_STOPS):
        page.keyboard.press(key)
        state = focus(page)
        stops.append(state["what"])
        assert state["visible"], f"focus is not visible on {state['what']} ({page.url})"
        if wanted(state):
            return state
    raise AssertionError(f"never reached the wanted element by {key}; stops: {stops[-MAX_STOPS:]}")


def by_id(element_id: str):
    return lambda state: state["id"] == element_id


def button_named(name: str):
    return lambda state: state["tag"] == "button" and state["name"] == name


def button_saying(text: str):
    return lambda state: state["tag"] == "button" and f'"{text}' in state["what"]


def test_a_citizen_files_a_procedure_from_its_page_to_the_receipt_with_the_keyboard_only(
    live_server, catalog
):
    proc = procedure("ACCESO-INFORMACION", "MDSI")
    make_citizen("teclado", "45556667")
    base = live_server.url
    proc_path = f"/tramites/{proc.agency.code}/{proc.code}/"
    stops: list[str] = []

    with browser() as chromium:
        page = new_page(chromium, base, "es")
        page.goto(f"{base}/ingresar/?next={proc_path}")
        tab_until(page, by_id("field-username"), stops)
        page.keyboard.type("teclado")
        tab_until(page, by_id("field-password"), stops)
        page.keyboard.type("a-long-test-password")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base}{proc_path}")

        # The procedure page: reach "Empezar ahora" and press it.
        tab_until(page, button_saying("Empezar ahora"), stops)
        page.keyboard.press("Enter")
        page.wait_for_url("**/borradores/*/")

        # Continue with nothing answered: the error summary takes the focus on load.
        tab_until(page, button_named("continue"), stops)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.wait_for_selector(".error-summary")
        summary = focus(page)
        assert summary["id"] == "error-summary", summary
        assert summary["visible"], "the focused error summary shows no focus ring"
        first_link = tab_until(page, lambda s: s["tag"] == "a", stops)
        assert page.evaluate("document.activeElement.closest('.error-summary') !== null")
        target = page.evaluate("document.activeElement.getAttribute('href')")
        page.keyboard.press("Enter")
        page.wait_for_function("(id) => document.activeElement.id === id", arg=target[1:])
        landed = focus(page)
        assert landed["visible"], f"the field the error link moved to shows no focus: {landed}"
        assert first_link["what"]

        # Shift+Tab goes back up the page and Tab comes down again to the same field.
        page.keyboard.press("Shift+Tab")
        assert focus(page)["visible"]
        tab_until(page, by_id(target[1:]), stops)

        # Answer the required questions by typing and Space, from the field the link reached.
        for field in proc.current_version.file.form:
            if field.type == "choice":
                tab_until(page, lambda s, n=field.name: s["name"] == n, stops)
                page.keyboard.press("Space")
                assert page.evaluate("document.activeElement.checked")
            elif field.required:
                element = f"field-{field.name}"
                if focus(page)["id"] != element:
                    tab_until(page, by_id(element), stops)
                value = "vecina@example.pe" if field.type == "email" else "Información pública"
                page.keyboard.type(value)
        tab_until(page, button_named("continue"), stops)
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/revisar/(#.*)?$"))

        # Check your answers, then "Presentar".
        tab_until(page, button_saying("Presentar"), stops)
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/cargo/(#.*)?$"))
        number = page.locator(".panel__body strong").inner_text()

    filing = Filing.objects.get(number=number)
    assert filing.citizen.username == "teclado"
    assert filing.answers["email"] == "vecina@example.pe"
    assert len(stops) > 10


def test_a_citizen_attaches_a_document_and_files_it_with_the_keyboard_only(live_server, catalog):
    """The file chooser opens from the keyboard (Space on the file input), like any other field."""
    from tambo.cases import actions
    from tambo.demo.samples import MINIMAL_PDF

    from .conftest import answers_for

    proc = procedure("LF-RIESGO-BAJO", "MDSI")
    citizen = make_citizen("adjunta", "45556668")
    draft = actions.start_draft(citizen, proc.current_version)
    actions.save_answers(citizen, draft.pk, answers_for(proc))
    file_fields = [f.name for f in proc.current_version.file.form if f.type == "file"]
    base = live_server.url
    stops: list[str] = []

    with browser() as chromium:
        page = new_page(chromium, base, "es")
        # Registered before any key is pressed, so the chooser is intercepted every time.
        page.on(
            "filechooser",
            lambda chooser: chooser.set_files(
                {"name": "plano.pdf", "mimeType": "application/pdf", "buffer": MINIMAL_PDF}
            ),
        )
        page.goto(f"{base}/ingresar/?next=/borradores/{draft.pk}/")
        tab_until(page, by_id("field-username"), stops)
        page.keyboard.type("adjunta")
        tab_until(page, by_id("field-password"), stops)
        page.keyboard.type("a-long-test-password")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base}/borradores/{draft.pk}/")
        for name in file_fields:
            tab_until(page, by_id(f"field-{name}"), stops)
            page.keyboard.press("Space")
            page.wait_for_function(
                "(id) => document.getElementById(id).files.length === 1", arg=f"field-{name}"
            )
        tab_until(page, button_named("continue"), stops)
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/revisar/(#.*)?$"))
        assert "plano.pdf" in page.content()
        tab_until(page, button_saying("Presentar"), stops)
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/cargo/(#.*)?$"))
        number = page.locator(".panel__body strong").inner_text()

    filing = Filing.objects.get(number=number)
    assert sorted(d.field_name for d in filing.documents.all()) == sorted(file_fields)
