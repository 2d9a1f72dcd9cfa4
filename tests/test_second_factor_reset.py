"""A lost phone: the official replaces their authenticator after a recovery code, or a
supervisor of their unit (or an administrator) resets it; audited, sessions ended, told."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.core import mail
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tambo.catalog.models import OrgUnit
from tambo.core import clock
from tambo.core.models import AuditEntry
from tambo.identity.models import Delegation
from tambo.identity.second_factor import issue_recovery_codes

from .conftest import enrol_totp, login_official, make_citizen, make_official

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-test-password"  # the fixtures' password


@pytest.fixture
def people(catalog):
    staff = {
        "supervisor": make_official("sup", "MDSI", ["supervisor"], ["GDE"]),
        "evaluator": make_official("eva", "MDSI", ["evaluator"], ["GDE"]),
        "other_supervisor": make_official("sup2", "MDSI", ["supervisor"], ["GDU"]),
        "mtc": make_official("mtc", "MTC", ["supervisor"]),
    }
    staff["evaluator"].email = "eva@example.pe"
    staff["evaluator"].save(update_fields=["email"])
    return staff


def _password(client: Client, user) -> str:
    response = client.post("/ingresar/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return response["Location"]


def _app_code(page: str) -> str:
    """What the new phone's authenticator app computes from the secret the page shows."""
    secret = re.search(r'id="totp-secret" class="code">([A-Z2-7]+)<', page).group(1)
    return f"{TOTP(base64.b32decode(secret + '=' * (-len(secret) % 8))).token():06d}"


def test_a_lost_phone_recovery_code_then_a_new_authenticator(
    people, django_capture_on_commit_callbacks
):
    evaluator = people["evaluator"]
    old_device = enrol_totp(evaluator)
    old_codes = issue_recovery_codes(evaluator)
    web = Client()
    _password(web, evaluator)
    used = web.post("/ingresar/segundo-factor/", {"code": old_codes[0], "next": "/oficina/"})
    assert used.status_code == 302
    target = urlparse(used["Location"])
    assert target.path == "/ingresar/segundo-factor/reemplazar/"
    assert parse_qs(target.query) == {"next": ["/oficina/"], "recuperacion": ["1"]}

    page = web.get(used["Location"])
    body = page.content.decode()
    assert page.status_code == 200
    assert "Le quedan 9 códigos" in body and "<svg" in body
    assert 'href="/oficina/"' in body  # "not now": keep the authenticator
    assert web.post(used["Location"], {"code": "000000"}).status_code == 422
    assert TOTPDevice.objects.get(user=evaluator, confirmed=True).pk == old_device.pk

    mail.outbox.clear()
    with (
        pytest.MonkeyPatch.context() as patch,  # django-otp's delay after the wrong code
        django_capture_on_commit_callbacks(execute=True),
    ):
        patch.setattr(TOTPDevice, "verify_is_allowed", lambda self: (True, None))
        done = web.post(used["Location"], {"code": _app_code(body)})
    assert done.status_code == 200
    new_codes = re.findall(r'<li><code class="code">([a-z0-9]+)</code></li>', done.content.decode())
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert web.get("/oficina/").status_code == 200  # still verified, with the new device
    assert "/ingresar/segundo-factor/reemplazar/" in web.get("/cuenta/").content.decode()
    device = TOTPDevice.objects.get(user=evaluator)  # the only one left
    assert device.pk != old_device.pk and device.confirmed
    assert set(
        StaticToken.objects.filter(device__user=evaluator).values_list("token", flat=True)
    ) == set(new_codes)
    entry = AuditEntry.objects.get(action="otp.replaced")
    assert entry.actor_id == evaluator.pk and entry.data["devices_removed"] == 1
    assert [m.to for m in mail.outbox] == [["eva@example.pe"]]
    assert "nueva aplicación de autenticación" in mail.outbox[0].body

    # The old phone's codes and the old recovery codes no longer open a session.
    stale = Client()
    _password(stale, evaluator)
    old_totp = TOTP(old_device.bin_key).token()
    assert stale.post("/ingresar/segundo-factor/", {"code": f"{old_totp:06d}"}).status_code == 422
    assert stale.post("/ingresar/segundo-factor/", {"code": old_codes[1]}).status_code == 422
    # The new authenticator works (after the delay the wrong code above started).
    TOTPDevice.objects.filter(user=evaluator).update(
        throttling_failure_count=0, throttling_failure_timestamp=None
    )
    login_official(Client(), evaluator)


def test_replacing_needs_a_verified_session(people):
    evaluator = people["evaluator"]
    enrol_totp(evaluator)
    web = Client()
    _password(web, evaluator)  # password only
    refused = web.get("/ingresar/segundo-factor/reemplazar/")
    assert refused.status_code == 302
    assert refused["Location"].startswith("/ingresar/segundo-factor/?")
    assert TOTPDevice.objects.filter(user=evaluator).count() == 1  # nothing pending was made
    citizen = Client()
    citizen.force_login(make_citizen("rosa", "40123456"))
    assert citizen.get("/ingresar/segundo-factor/reemplazar/").status_code == 302
    assert not TOTPDevice.objects.filter(user__username="rosa").exists()


def test_a_supervisor_resets_an_officials_second_factor(people, django_capture_on_commit_callbacks):
    evaluator, supervisor = people["evaluator"], people["supervisor"]
    open_session = login_official(Client(), evaluator)
    issue_recovery_codes(evaluator)
    web = login_official(Client(), supervisor)
    page = web.get("/oficina/personal/").content.decode()
    assert f'id="reset-{evaluator.pk}"' in page
    assert "sup2" not in page and "mtc" not in page  # other units and agencies are not theirs
    assert "Segundo factor del personal" in web.get("/oficina/").content.decode()

    url = f"/oficina/personal/{evaluator.pk}/segundo-factor/restablecer/"
    refused = web.post(url, {"reason": " "})
    assert refused.status_code == 422
    assert f'href="#field-reason-{evaluator.pk}"' in refused.content.decode()
    assert TOTPDevice.objects.filter(user=evaluator).exists()
    assert not AuditEntry.objects.filter(action="otp.reset").exists()

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        done = web.post(url, {"reason": "Perdió su teléfono y sus códigos."})
    assert done.status_code == 302 and done["Location"] == "/oficina/personal/"
    assert not TOTPDevice.objects.filter(user=evaluator).exists()
    assert not StaticDevice.objects.filter(user=evaluator).exists()
    entry = AuditEntry.objects.get(action="otp.reset")
    assert entry.actor_id == supervisor.pk and entry.object_id == str(evaluator.pk)
    assert entry.data["reason"] == "Perdió su teléfono y sus códigos."
    assert entry.agency_code == "MDSI"
    assert AuditEntry.objects.filter(
        action="sessions.ended", object_id=str(evaluator.pk), data__reason="second_factor_reset"
    ).exists()
    assert [m.to for m in mail.outbox] == [["eva@example.pe"]]
    assert "restableció su segundo factor" in mail.outbox[0].body
    assert supervisor.get_full_name() in mail.outbox[0].body

    # The session that was open has ended; the next login must enrol again.
    assert open_session.get("/oficina/")["Location"].startswith("/ingresar/")
    again = Client()
    _password(again, evaluator)
    enrol = again.get("/ingresar/segundo-factor/?next=/oficina/")
    assert enrol["Location"].startswith("/ingresar/segundo-factor/registrar/")
    assert again.get("/oficina/").status_code == 302


def test_who_may_reset_whose_second_factor(people, catalog):
    evaluator, supervisor = people["evaluator"], people["supervisor"]
    enrol_totp(supervisor)
    for who in (evaluator, people["other_supervisor"], people["mtc"]):
        web = login_official(Client(), who)
        url = f"/oficina/personal/{supervisor.pk}/segundo-factor/restablecer/"
        assert web.post(url, {"reason": "x"}).status_code == 404
    web = login_official(Client(), supervisor)
    for target in (supervisor.pk, people["other_supervisor"].pk, people["mtc"].pk, 999999):
        url = f"/oficina/personal/{target}/segundo-factor/restablecer/"
        assert web.post(url, {"reason": "x"}).status_code == 404, target
    # A delegated supervisor role does not carry this power.
    Delegation.objects.create(
        delegator=supervisor,
        delegate=people["other_supervisor"],
        unit=OrgUnit.objects.get(agency__code="MDSI", code="GDE"),
        role="supervisor",
        starts_on=clock.local_now().date(),
        ends_on=clock.local_now().date(),
        reason="Vacaciones.",
        created_at=clock.now(),
    )
    delegated = login_official(Client(), people["other_supervisor"])
    url = f"/oficina/personal/{evaluator.pk}/segundo-factor/restablecer/"
    assert delegated.post(url, {"reason": "x"}).status_code == 404
    # Only an administrator resets a staff account's.
    evaluator.is_staff = True
    evaluator.save(update_fields=["is_staff"])
    assert web.post(url, {"reason": "x"}).status_code == 404
    web = Client()
    web.force_login(make_citizen("rosa", "40123456"))
    assert web.get("/oficina/personal/").status_code == 404
    assert TOTPDevice.objects.filter(user=evaluator, confirmed=True).exists()
    assert TOTPDevice.objects.filter(user=supervisor, confirmed=True).exists()
    assert not AuditEntry.objects.filter(action="otp.reset").exists()


def test_an_administrator_resets_it_from_the_admin(
    people, admin_client, django_capture_on_commit_callbacks
):
    evaluator = people["evaluator"]
    enrol_totp(evaluator)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client.post(
            "/admin/identity/user/",
            {"action": "reset_second_factor", "_selected_action": [evaluator.pk]},
        )
    assert done.status_code == 302
    assert not TOTPDevice.objects.filter(user=evaluator).exists()
    entry = AuditEntry.objects.get(action="otp.reset")
    assert entry.data["reason"] == "Desde la administración"
    assert [m.to for m in mail.outbox] == [["eva@example.pe"]]
