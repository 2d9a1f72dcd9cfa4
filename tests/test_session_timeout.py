"""WCAG 2.2.1 Timing Adjustable: officials are told when their idle session ends and extend it.

Server side (Django's test client): every official page states the end time and carries a
"Seguir conectado" form that restarts the idle clock without JavaScript; citizens' pages have
neither. Browser side (Playwright, Debian's Chromium): the progressive warning dialog appears
before the end, takes the focus, is announced, extends the session from the keyboard, and has
no axe-core violation in es, qu and en.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.test import Client

from tambo.core import clock
from tambo.identity.middleware import LAST_SEEN

from .conftest import enrol_totp, login_official, make_official
from .site_pages import axe_violations, browser, login, new_page

IDLE = 30 * 60


@pytest.fixture
def desk(catalog):
    return make_official("mesa", "MDSI", ["front_desk"], ["MP"])


@pytest.mark.django_db
def test_official_pages_state_when_the_session_ends_and_offer_to_extend_it(desk, web):
    start = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)  # 10:00 in Lima
    client = Client()
    with clock.frozen(start):
        login_official(client, desk)
        page = client.get("/oficina/").content.decode()
    assert 'id="session-notice"' in page
    assert "30 minutos sin actividad" in page
    assert re.search(
        r'<time datetime="2026-12-01T10:30:00-05:00" data-session-ends>10:30</time>', page
    )
    assert 'data-session-remaining="1800"' in page and 'data-session-warn="120"' in page
    assert 'action="/sesion/seguir/?next=/oficina/"' in page
    assert 'role="alertdialog"' in page and "js/session.js" in page
    citizen_page = web.get("/mis-expedientes/").content.decode()
    assert "session-notice" not in citizen_page and "<script" not in citizen_page


@pytest.mark.django_db
def test_seguir_conectado_without_javascript_restarts_the_idle_clock_and_returns(desk):
    start = clock.now()
    client = Client()
    with clock.frozen(start):
        login_official(client, desk)
    with clock.frozen(start + dt.timedelta(minutes=28)):
        kept = client.post("/sesion/seguir/?next=/oficina/")
        assert kept.status_code == 302 and kept["Location"] == "/oficina/"
        assert client.session[LAST_SEEN] == clock.now().timestamp()
        assert "Su sesión sigue activa." in client.get("/oficina/").content.decode()
    # 55 minutes after signing in, 27 after "Seguir conectado": still signed in.
    with clock.frozen(start + dt.timedelta(minutes=55)):
        assert client.get("/oficina/").status_code == 200


@pytest.mark.django_db
def test_without_seguir_conectado_the_session_ends(desk):
    start = clock.now()
    client = Client()
    with clock.frozen(start):
        login_official(client, desk)
    with clock.frozen(start + dt.timedelta(minutes=31)):
        ended = client.get("/oficina/")
    assert ended.status_code == 302 and ended["Location"].startswith("/ingresar/")


@pytest.mark.django_db
def test_the_dialogs_request_gets_the_new_remaining_time_as_json(desk):
    start = clock.now()
    client = Client()
    with clock.frozen(start):
        login_official(client, desk)
    with clock.frozen(start + dt.timedelta(minutes=29)):
        answer = client.post("/sesion/seguir/", headers={"Accept": "application/json"})
    assert answer.status_code == 200
    assert answer.json()["remaining_seconds"] == IDLE
    ends = dt.datetime.fromisoformat(answer.json()["ends_at"])
    assert ends == start + dt.timedelta(minutes=29, seconds=IDLE)


@pytest.mark.django_db
def test_after_the_end_seguir_conectado_asks_to_sign_in_and_comes_back(desk):
    start = clock.now()
    client = Client()
    with clock.frozen(start):
        login_official(client, desk)
    with clock.frozen(start + dt.timedelta(minutes=31)):
        late = client.post("/sesion/seguir/?next=/oficina/")
        assert late.status_code == 302 and late["Location"].startswith("/ingresar/?next=")
        login_official(client, desk)
        back = client.get("/sesion/seguir/?next=/oficina/")
    assert back.status_code == 302 and back["Location"] == "/oficina/"


@pytest.mark.django_db
def test_seguir_conectado_never_sends_anyone_to_another_site(desk):
    client = login_official(Client(), desk)
    answer = client.post("/sesion/seguir/?next=https://evil.example/")
    assert answer.status_code == 302 and "evil.example" not in answer["Location"]
    anonymous = Client().post("/sesion/seguir/", headers={"Accept": "application/json"})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"


def _official_page(chromium, base, lang, device, **options):
    page = new_page(chromium, base, lang, **options)
    login(page, base, "mesa", device)
    return page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("lang", ["es", "qu", "en"])
def test_the_warning_dialog_takes_the_focus_is_announced_and_extends_from_the_keyboard(
    live_server, desk, lang
):
    device = enrol_totp(desk)
    base = live_server.url
    with browser() as chromium:
        page = _official_page(chromium, base, lang, device)
        page.clock.install()
        page.goto(f"{base}/oficina/")
        dialog = page.locator("#session-warning")
        assert not dialog.is_visible()
        page.clock.fast_forward("28:10")  # 1:50 left: inside the 2-minute warning
        dialog.wait_for(state="visible")
        focused = page.evaluate(
            "() => document.activeElement.closest('#session-warning') !== null"
            " && document.activeElement.textContent.trim()"
        )
        assert focused, "the focus did not move into the warning"
        assert dialog.get_attribute("role") == "alertdialog"
        assert page.locator("#session-warning [aria-live]").count() == 1
        assert re.fullmatch(r"1:[0-5]\d", page.locator("[data-countdown]").inner_text())
        violations = axe_violations(page)
        assert not violations, violations
        with page.expect_response("**/sesion/seguir/**") as kept:
            page.keyboard.press("Enter")
        assert kept.value.status == 200 and kept.value.json()["remaining_seconds"] > IDLE - 60
        dialog.wait_for(state="hidden")
        # The deadline moved: 28 more minutes pass without a warning, then it comes back.
        page.clock.fast_forward("27:00")
        page.wait_for_timeout(1500)
        assert not dialog.is_visible()
        page.clock.fast_forward("01:30")
        dialog.wait_for(state="visible")
        with page.expect_response("**/sesion/seguir/**") as escaped:
            page.keyboard.press("Escape")  # Escape closes the dialog and extends too
        assert escaped.value.status == 200
        dialog.wait_for(state="hidden")
        assert page.url == f"{base}/oficina/"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_without_javascript_the_notice_button_extends_and_returns_to_the_page(live_server, desk):
    device = enrol_totp(desk)
    base = live_server.url
    with browser() as chromium:
        page = _official_page(chromium, base, "es", device, java_script_enabled=False)
        page.goto(f"{base}/oficina/")
        assert "se cierra tras 30 minutos" in page.locator("#session-notice").inner_text()
        with page.expect_navigation():
            page.click("#session-notice button")
        assert page.url == f"{base}/oficina/"
        assert "Su sesión sigue activa." in page.locator("main").inner_text()


@pytest.mark.django_db
def test_answers_saved_before_a_session_ends_are_there_after_signing_in_again(citizen, catalog):
    """Drafts are saved on every "Continuar" and "Guardar y seguir después", so neither an
    intermediary's idle timeout nor the end of a citizen's session loses them."""
    from tambo.cases import assisted
    from tambo.cases.models import Draft

    from .conftest import PNG_1PX, answers_for, without_file_field

    proc = without_file_field(catalog)
    text_field = next(f.name for f in proc.current_version.file.form if f.type == "text")
    answers = {**answers_for(proc), text_field: "Respuesta que no se pierde"}
    intermediary = make_official("tambo_ana", "MDSI", ["intermediary"], ["MP"])
    consent = assisted.request_consent(
        intermediary,
        proc,
        document_type="dni",
        document_number=citizen.document_number,
        method="paper",
        scan=io.BytesIO(PNG_1PX),
    )
    draft = assisted.start_assisted_draft(intermediary, consent.pk)
    start = clock.now()
    helper = Client()
    with clock.frozen(start):
        login_official(helper, intermediary)
        saved = helper.post(f"/borradores/{draft.pk}/", {**answers, "save_later": "1"})
        assert saved.status_code == 302
    with clock.frozen(start + dt.timedelta(minutes=31)):
        ended = helper.get(f"/borradores/{draft.pk}/")
        assert ended.status_code == 302 and ended["Location"].startswith("/ingresar/")
        login_official(helper, intermediary)
        page = helper.get(f"/borradores/{draft.pk}/").content.decode()
    assert "Respuesta que no se pierde" in page
    # The citizen's own session ending (logout, another device) changes nothing either.
    browser_a = Client()
    browser_a.force_login(citizen)
    browser_a.logout()
    browser_b = Client()
    browser_b.force_login(citizen)
    assert (
        "Respuesta que no se pierde" in browser_b.get(f"/borradores/{draft.pk}/").content.decode()
    )
    assert Draft.objects.get(pk=draft.pk).answers[text_field] == "Respuesta que no se pierde"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_when_the_time_runs_out_the_page_goes_to_the_login_and_comes_back(
    live_server, desk, settings
):
    settings.TAMBO_OFFICIAL_IDLE_SECONDS = 10
    settings.TAMBO_SESSION_WARNING_SECONDS = 8
    device = enrol_totp(desk)
    base = live_server.url
    with browser() as chromium:
        page = _official_page(chromium, base, "es", device)
        page.goto(f"{base}/oficina/#main")
        page.locator("#session-warning").wait_for(state="visible", timeout=15_000)
        page.wait_for_url(re.compile(r"/ingresar/\?next=%2Foficina%2F$"), timeout=20_000)
        assert "Su sesión terminó por inactividad" in page.locator("main").inner_text()
