"""Local login: the per-account lock, sessions (rotation, logout everywhere, disabling, the
officials' idle timeout), the officials' second factor (TOTP enrolment, recovery codes),
argon2 and the password validators."""

from __future__ import annotations

import base64
import datetime as dt
import re
import time

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tambo.core import clock
from tambo.core.models import AuditEntry
from tambo.identity import actions
from tambo.identity.models import LoginThrottle

from .conftest import login_official, make_citizen, make_official, token_client, totp_code

PASSWORD = "a-long-test-password"
LOCKED = "bloqueado por unos minutos"


def post_login(client: Client, username: str, password: str):
    return client.post("/ingresar/", {"username": username, "password": password})


def signed_in(client: Client) -> bool:
    return client.get("/mis-expedientes/").status_code == 200


# The lock


def test_five_failures_lock_the_account_for_ten_minutes_then_it_unlocks(client, citizen):
    for _attempt in range(4):
        response = post_login(client, "rosa", "wrong password")
        assert response.status_code == 200
        assert "no son correctos" in response.content.decode()
    fifth = post_login(client, "rosa", "wrong password")
    assert fifth.status_code == 429 and LOCKED in fifth.content.decode()
    right_password_while_locked = post_login(client, "rosa", PASSWORD)
    assert right_password_while_locked.status_code == 429
    assert not signed_in(client)

    with clock.frozen(clock.now() + dt.timedelta(minutes=9)):
        assert post_login(client, "ROSA ", PASSWORD).status_code == 429  # same name, any case
    with clock.frozen(clock.now() + dt.timedelta(minutes=10, seconds=1)):
        assert post_login(client, "rosa", PASSWORD).status_code == 302
    assert signed_in(client)
    assert not LoginThrottle.objects.filter(key="rosa").exists()
    actions_logged = list(
        AuditEntry.objects.filter(object_id__in=["rosa", str(citizen.pk)])
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions_logged == ["login.failed"] * 4 + [
        "login.locked",
        "login.refused_locked",
        "login.refused_locked",
        "login.succeeded",
    ]


def test_an_unknown_account_is_answered_exactly_like_a_real_one(client, citizen):
    def replies(username: str) -> list[tuple[int, str]]:
        out = []
        for _ in range(6):
            response = post_login(Client(), username, "wrong password")
            body = response.content.decode()
            body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)
            out.append((response.status_code, body.replace(username, "NAME")))
        return out

    assert replies("rosa") == replies("nadie-existe")
    assert LoginThrottle.objects.filter(key="nadie-existe", locked_until__isnull=False).exists()


def test_odd_input_is_a_plain_refusal(client, citizen):
    for username, password in [
        ("ro\x00sa", PASSWORD),
        ("x" * 5000, "y"),
        ("", ""),
        ("rosa", "p\x00"),
    ]:
        response = post_login(client, username, password)
        assert response.status_code == 200
        assert "no son correctos" in response.content.decode()
    assert not signed_in(client)


def test_failures_outside_the_window_do_not_add_up(client, citizen, settings):
    settings.TAMBO_LOGIN_MAX_FAILURES = 3
    settings.TAMBO_LOGIN_LOCKOUT_SECONDS = 60
    start = clock.now()
    with clock.frozen(start):
        post_login(client, "rosa", "x")
        post_login(client, "rosa", "x")
    with clock.frozen(start + dt.timedelta(seconds=61)):
        assert post_login(client, "rosa", "x").status_code == 200  # a new window: 1 of 3
        assert post_login(client, "rosa", "x").status_code == 200
        assert post_login(client, "rosa", "x").status_code == 429


# Sessions


def test_login_gives_a_new_session_key(client, citizen):
    session = client.session
    session["before"] = True
    session.save()
    before = client.cookies["sessionid"].value
    assert post_login(client, "rosa", PASSWORD).status_code == 302
    assert client.cookies["sessionid"].value != before


def test_logout_ends_every_session_of_the_user(citizen):
    laptop, phone = Client(), Client()
    for device in (laptop, phone):
        assert post_login(device, "rosa", PASSWORD).status_code == 302
        assert signed_in(device)
    other = Client()
    make_citizen("pedro", "40999888")
    post_login(other, "pedro", PASSWORD)

    assert laptop.post("/salir/").status_code == 302
    assert not signed_in(laptop)
    assert not signed_in(phone)
    assert signed_in(other)  # someone else's sessions are untouched
    assert AuditEntry.objects.filter(action="sessions.ended", object_id=str(citizen.pk)).exists()


def test_disabling_an_account_ends_its_sessions_for_good(citizen):
    device = Client()
    post_login(device, "rosa", PASSWORD)
    assert signed_in(device)
    actions.disable_account("admin", citizen)
    assert not signed_in(device)
    assert post_login(Client(), "rosa", PASSWORD).status_code == 200  # refused
    citizen.is_active = True
    citizen.save(update_fields=["is_active"])
    assert not signed_in(device)  # re-enabling does not bring the old session back
    assert AuditEntry.objects.filter(action="account.disabled").count() == 1


@pytest.fixture
def desk(catalog):
    return make_official("mesa", "MDSI", ["front_desk"], ["MP"])


def test_an_officials_session_ends_after_thirty_idle_minutes(client, desk):
    start = clock.now()
    with clock.frozen(start):
        login_official(client, desk)
        assert client.get("/oficina/").status_code == 200
    with clock.frozen(start + dt.timedelta(minutes=29)):
        assert client.get("/oficina/").status_code == 200  # activity moves the idle clock
    with clock.frozen(start + dt.timedelta(minutes=58)):
        assert client.get("/oficina/").status_code == 200
    with clock.frozen(start + dt.timedelta(minutes=89)):
        expired = client.get("/oficina/")
    assert expired.status_code == 302 and expired["Location"].startswith("/ingresar/")
    assert client.get("/oficina/").status_code == 302
    assert AuditEntry.objects.filter(action="sessions.idle_timeout").count() == 1


def test_citizens_sessions_have_no_idle_timeout_of_thirty_minutes(client, citizen):
    start = clock.now()
    with clock.frozen(start):
        post_login(client, "rosa", PASSWORD)
    with clock.frozen(start + dt.timedelta(hours=2)):
        assert signed_in(client)


# Second factor


def test_an_official_enrols_a_totp_app_on_first_login_and_gets_recovery_codes(client, desk):
    response = post_login(client, "mesa", PASSWORD)
    assert response["Location"].startswith("/ingresar/segundo-factor/")
    assert client.get("/oficina/").status_code == 302  # password alone is not enough
    enrol = client.get(response["Location"], follow=True)
    page = enrol.content.decode()
    assert enrol.redirect_chain[-1][0].startswith("/ingresar/segundo-factor/registrar/")
    assert "<svg" in page
    secret = re.search(r'id="totp-secret" class="code">([A-Z2-7]+)<', page).group(1)

    wrong = client.post("/ingresar/segundo-factor/registrar/", {"code": "000000"})
    assert wrong.status_code == 422 and "no es correcto" in wrong.content.decode()
    assert not TOTPDevice.objects.filter(user=desk, confirmed=True).exists()
    assert client.get("/oficina/").status_code == 302

    too_soon = client.post("/ingresar/segundo-factor/registrar/", {"code": "000000"})
    assert "Espere unos segundos" in too_soon.content.decode()
    time.sleep(2.1)  # django-otp doubles the wait after each wrong code (1 s, then 2 s)

    # What the person's authenticator app computes from the secret it was shown.
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    code = f"{TOTP(key).token():06d}"
    done = client.post("/ingresar/segundo-factor/registrar/", {"code": code})
    assert done.status_code == 200
    codes = re.findall(r'<li><code class="code">([a-z0-9]+)</code></li>', done.content.decode())
    assert len(codes) == 10
    assert client.get("/oficina/").status_code == 200
    assert TOTPDevice.objects.get(user=desk).confirmed
    assert AuditEntry.objects.filter(action="otp.enrolled", object_id=str(desk.pk)).exists()

    # The next login asks for a code; a recovery code works once.
    second = Client()
    post_login(second, "mesa", PASSWORD)
    assert second.get("/ingresar/segundo-factor/registrar/").status_code == 302  # no re-enrolment
    assert second.post("/ingresar/segundo-factor/", {"code": codes[0]}).status_code == 302
    assert second.get("/oficina/").status_code == 200
    third = Client()
    post_login(third, "mesa", PASSWORD)
    reused = third.post("/ingresar/segundo-factor/", {"code": codes[0]})
    assert reused.status_code == 422
    assert StaticToken.objects.filter(device__user=desk).count() == 9


def test_an_official_logs_in_with_password_and_a_totp_code(client, desk):
    device = TOTPDevice.objects.create(user=desk, name="Autenticador", confirmed=True)
    post_login(client, "mesa", PASSWORD)
    wrong = client.post("/ingresar/segundo-factor/", {"code": "123456"})
    assert wrong.status_code == 422
    body = wrong.content.decode()
    assert "no es correcto" in body and "Traceback" not in body
    assert client.get("/oficina/").status_code == 302
    time.sleep(1.1)  # django-otp's delay after a wrong code
    ok = client.post("/ingresar/segundo-factor/", {"code": totp_code(device), "next": "/oficina/"})
    assert ok.status_code == 302 and ok["Location"] == "/oficina/"
    assert client.get("/oficina/").status_code == 200
    events = set(AuditEntry.objects.filter(object_id=str(desk.pk)).values_list("action", flat=True))
    assert {"otp.failed", "otp.verified", "login.succeeded"} <= events


def test_an_unverified_officials_session_is_refused_by_the_api_but_tokens_still_work(client, desk):
    post_login(client, "mesa", PASSWORD)
    refused = client.get("/api/v1/office/queues")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "second_factor_required"
    assert token_client(desk).get("/api/v1/office/queues").status_code == 200


def test_citizens_need_no_second_factor(client, citizen):
    response = post_login(client, "rosa", PASSWORD)
    assert response["Location"] == "/mis-expedientes/"
    assert signed_in(client)


# Passwords


def test_argon2_hashes_passwords_and_common_passwords_are_refused():
    from tambo.settings import base

    assert base.PASSWORD_HASHERS[0] == "tambo.identity.hashers.TamboArgon2PasswordHasher"
    from tambo.identity.hashers import TamboArgon2PasswordHasher

    hasher = TamboArgon2PasswordHasher()
    hashed = make_password("a-long-test-password", hasher=hasher)
    assert hashed.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert hasher.verify("a-long-test-password", hashed)
    assert not hasher.verify("another-password-entirely", hashed)
    assert not hasher.must_update(hashed)
    with pytest.raises(ValidationError) as refused:
        validate_password("password123")
    assert "common" in str(refused.value) or "común" in str(refused.value)
    validate_password("tambo-ayacucho-quinua-2026")


def test_a_demo_official_can_log_in_with_what_tambo_demo_prints(client, catalog):
    import io

    from django.core.management import call_command

    from tambo.demo.management.commands.demo import DEMO_PASSWORD

    printed = io.StringIO()
    call_command("demo", stdout=printed)
    assert "mesa: " in printed.getvalue() and "otpauth://totp/" in printed.getvalue()
    code = io.StringIO()
    call_command("demo", code="mesa", stdout=code)
    assert post_login(client, "mesa", DEMO_PASSWORD).status_code == 302
    assert (
        client.post("/ingresar/segundo-factor/", {"code": code.getvalue().strip()}).status_code
        == 302
    )
    assert client.get("/oficina/").status_code == 200
