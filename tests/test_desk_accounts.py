"""Issue 6, part 4 (follow-up): an intermediary creates an account for a person who has none."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core import mail
from django.test import Client, override_settings

from tambo.cases import desk_accounts
from tambo.cases.models import AccountEnrolment
from tambo.catalog.models import OrgUnit
from tambo.core import clock
from tambo.core.errors import Forbidden, NotFound, ValidationFailed
from tambo.core.models import AuditEntry
from tambo.identity import policy
from tambo.identity.models import Appointment, User
from tambo.inbox.sms import FileSender

from .conftest import PNG_1PX, login_official, make_official

pytestmark = pytest.mark.django_db
NEW_DNI = "45678912"
FORM = {
    "document_number": NEW_DNI,
    "first_name": "Quispe",
    "last_name": "Mamani Huamán",
    "phone": "987 111 222",
    "email": "",
    "method": "sms",
}


@pytest.fixture
def sms_file(tmp_path):
    path = tmp_path / "sms.jsonl"
    with override_settings(TAMBO_SMS_FILE=path, TAMBO_SMS_BACKEND="tambo.inbox.sms.FileSender"):
        yield FileSender(path)


@pytest.fixture
def intermediary(catalog):
    return make_official("tambo_ana", "MDSI", ["intermediary"], ["MP"])


@pytest.fixture
def helper(intermediary) -> Client:
    return login_official(Client(), intermediary)


def code_in(text: str) -> str:
    return re.search(r"\b(\d{6})\b", text).group(1)


def activation_token(text: str) -> str:
    return re.search(r"/cuenta/activar/([^/\s]+)/", text).group(1)


def test_an_account_with_an_sms_code_then_the_person_sets_their_own_password(
    helper, intermediary, sms_file, django_capture_on_commit_callbacks
):
    assert "/asistido/cuentas/nueva/" in helper.get("/asistido/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        started = helper.post("/asistido/cuentas/nueva/", FORM)
    assert started.status_code == 302 and started["Location"].endswith("/codigo/")
    assert not User.objects.filter(document_number=NEW_DNI).exists()  # not before consent
    [code_sms] = sms_file.sent()
    assert code_sms["to"] == "+51987111222" and "Quispe" not in code_sms["text"]
    enrolment = AccountEnrolment.objects.get()
    code = code_in(code_sms["text"])
    assert enrolment.code_hash and code not in enrolment.code_hash
    wrong = "000000" if code != "000000" else "111111"
    assert helper.post(started["Location"], {"code": wrong}).status_code == 422
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = helper.post(started["Location"], {"code": code})
    assert confirmed.status_code == 302
    done = helper.get(confirmed["Location"]).content.decode()
    assert f"dni-{NEW_DNI}" in done
    citizen = User.objects.get(document_type="dni", document_number=NEW_DNI)
    assert (citizen.first_name, citizen.phone) == ("Quispe", "+51987111222")
    assert not citizen.has_usable_password()  # nobody can sign in until the person chooses
    entry = AuditEntry.objects.get(action="account.created_at_desk")
    assert entry.actor_id == intermediary.pk and entry.data["consent_method"] == "sms"
    activation = sms_file.sent()[-1]
    assert activation["to"] == "+51987111222" and NEW_DNI not in activation["text"]
    token = activation_token(activation["text"])
    enrolment.refresh_from_db()
    assert enrolment.activation_hash and token not in enrolment.activation_hash

    person = Client()
    page = person.get(f"/cuenta/activar/{token}/")
    assert page.status_code == 200 and f"dni-{NEW_DNI}" in page.content.decode()
    mismatch = person.post(
        f"/cuenta/activar/{token}/", {"password1": "una-clave-larga-9", "password2": "otra"}
    )
    assert mismatch.status_code == 422
    weak = person.post(f"/cuenta/activar/{token}/", {"password1": "123", "password2": "123"})
    assert weak.status_code == 422
    saved = person.post(
        f"/cuenta/activar/{token}/",
        {"password1": "una-clave-larga-9", "password2": "una-clave-larga-9"},
    )
    assert saved.status_code == 302 and saved["Location"] == "/ingresar/"
    signed_in = person.post(
        "/ingresar/", {"username": f"dni-{NEW_DNI}", "password": "una-clave-larga-9"}
    )
    assert signed_in.status_code == 302
    assert AuditEntry.objects.filter(action="account.activated", actor_id=citizen.pk).exists()
    # The link works once.
    assert Client().get(f"/cuenta/activar/{token}/").status_code == 404


def test_paper_consent_creates_the_account_at_once_and_the_link_goes_by_email(
    helper, django_capture_on_commit_callbacks
):
    scan = io.BytesIO(PNG_1PX)
    scan.name = "consentimiento.png"
    form = {**FORM, "phone": "", "email": "quispe@example.pe", "method": "paper", "scan": scan}
    with django_capture_on_commit_callbacks(execute=True):
        response = helper.post("/asistido/cuentas/nueva/", form)
    assert response.status_code == 302 and not response["Location"].endswith("/codigo/")
    enrolment = AccountEnrolment.objects.get()
    assert enrolment.citizen is not None and len(enrolment.scan_sha256) == 64
    [message] = mail.outbox
    assert message.to == ["quispe@example.pe"] and "/cuenta/activar/" in message.body


def test_an_existing_dni_is_refused_without_revealing_its_holder(helper, citizen):
    citizen.phone = "+51999888777"
    citizen.save()
    refused = helper.post("/asistido/cuentas/nueva/", {**FORM, "document_number": "40123456"})
    assert refused.status_code == 422
    page = refused.content.decode()
    assert "Ya hay una cuenta con ese DNI" in page
    for private in (citizen.first_name, citizen.last_name, citizen.email, "888", citizen.username):
        assert private not in page
    assert AccountEnrolment.objects.count() == 0


def test_bad_input_gives_field_errors_and_writes_nothing(helper):
    entries = AuditEntry.objects.count()
    response = helper.post(
        "/asistido/cuentas/nueva/",
        {
            "document_number": "12AB",
            "first_name": " ",
            "last_name": "",
            "phone": "",
            "email": "x@",
            "method": "sms",
        },
    )
    assert response.status_code == 422
    page = response.content.decode()
    for field in ("document_number", "first_name", "last_name", "email", "method"):
        assert f'href="#field-{field}"' in page, field
    assert AccountEnrolment.objects.count() == 0 and AuditEntry.objects.count() == entries


def test_the_dni_is_checked_with_its_check_digit():
    assert desk_accounts.check_dni("45678912") == "45678912"
    with pytest.raises(ValidationFailed):
        desk_accounts.check_dni("4567891")  # seven digits
    with pytest.raises(ValidationFailed):
        desk_accounts.check_dni("45678912X")  # a CUI whose check digit is wrong


def test_an_expired_or_unknown_link_does_not_work(
    intermediary, sms_file, django_capture_on_commit_callbacks
):
    moment = clock.now()
    scan = io.BytesIO(PNG_1PX)
    with clock.frozen(moment), django_capture_on_commit_callbacks(execute=True):
        desk_accounts.request_account(intermediary, **{**FORM, "method": "paper"}, scan=scan)
    token = activation_token(sms_file.sent()[-1]["text"])
    assert desk_accounts.activation_for(token).citizen is not None
    assert Client().get("/cuenta/activar/no-such-token/").status_code == 404
    late = moment + dt.timedelta(hours=desk_accounts.ACTIVATION_HOURS, seconds=1)
    with clock.frozen(late):
        with pytest.raises(NotFound):
            desk_accounts.activation_for(token)
        assert Client().get(f"/cuenta/activar/{token}/").status_code == 404


def test_only_intermediaries_and_only_their_own_requests(helper, intermediary, web, catalog):
    assert web.get("/asistido/cuentas/nueva/").status_code == 404
    other = make_official("tambo_luis", "MDSI", ["intermediary"], ["MP"])
    scan = io.BytesIO(PNG_1PX)
    enrolment = desk_accounts.request_account(other, **{**FORM, "method": "paper"}, scan=scan)
    assert helper.get(f"/asistido/cuentas/{enrolment.pk}/").status_code == 404
    assert helper.get(f"/asistido/cuentas/{enrolment.pk}/codigo/").status_code == 404
    with pytest.raises(NotFound):
        desk_accounts.confirm_code(intermediary, enrolment.pk, "123456")


def test_the_policy_answers_on_a_request_for_who_took_it_at_that_desk(intermediary, catalog):
    """``assisted.enrolment`` is the decision: who took the request, while at that unit; a
    request never passes for a consent (``assisted.consent``) nor the reverse."""
    scan = io.BytesIO(PNG_1PX)
    enrolment = desk_accounts.request_account(
        intermediary, **{**FORM, "method": "paper"}, scan=scan
    )
    other = make_official("tambo_luis", "MDSI", ["intermediary"], ["MP"])
    assert policy.allows(intermediary, "assisted.enrolment", enrolment)
    assert not policy.allows(intermediary, "assisted.consent", enrolment)
    assert not policy.allows(other, "assisted.enrolment", enrolment)
    with pytest.raises(NotFound):  # someone else's: as if it did not exist
        policy.require(other, "assisted.enrolment", enrolment)
    # The person who now has the account is not told the request exists either.
    with pytest.raises(NotFound):
        policy.require(enrolment.citizen, "assisted.enrolment", enrolment)
    # Moved to another desk of the same agency: refused, and told so (it is theirs).
    Appointment.objects.filter(user=intermediary).update(active=False)
    Appointment.objects.create(
        user=intermediary,
        unit=OrgUnit.objects.get(agency__code="MDSI", code="RC"),
        role="intermediary",
    )
    policy.forget(intermediary)
    assert not policy.allows(intermediary, "assisted.enrolment", enrolment)
    with pytest.raises(Forbidden):
        desk_accounts.get_enrolment(intermediary, enrolment.pk)


def test_account_requests_are_rate_limited_per_intermediary(helper, settings):
    settings.TAMBO_RATE_LIMITS = {**settings.TAMBO_RATE_LIMITS, "desk_account": "1/3600"}
    first = helper.post("/asistido/cuentas/nueva/", FORM)
    assert first.status_code == 302
    second = helper.post(
        "/asistido/cuentas/nueva/", {**FORM, "document_number": "45678913", "phone": "987111333"}
    )
    assert second.status_code == 429 and int(second["Retry-After"]) > 0
    assert "Hizo demasiados intentos" in second.content.decode()
    assert AccountEnrolment.objects.count() == 1


def test_a_new_activation_link_replaces_the_old_one(
    helper, intermediary, sms_file, django_capture_on_commit_callbacks
):
    scan = io.BytesIO(PNG_1PX)
    with django_capture_on_commit_callbacks(execute=True):
        enrolment = desk_accounts.request_account(
            intermediary, **{**FORM, "method": "paper"}, scan=scan
        )
    old = activation_token(sms_file.sent()[-1]["text"])
    done = helper.get(f"/asistido/cuentas/{enrolment.pk}/").content.decode()
    assert f'action="/asistido/cuentas/{enrolment.pk}/reenviar/"' in done
    with django_capture_on_commit_callbacks(execute=True):
        resent = helper.post(f"/asistido/cuentas/{enrolment.pk}/reenviar/")
    assert resent.status_code == 302
    new = activation_token(sms_file.sent()[-1]["text"])
    assert new != old and len(sms_file.sent()) == 2
    assert Client().get(f"/cuenta/activar/{old}/").status_code == 404
    assert Client().get(f"/cuenta/activar/{new}/").status_code == 200
    assert AuditEntry.objects.filter(action="account.activation_resent").count() == 1
    desk_accounts.activate(new, "una-clave-larga-9", "una-clave-larga-9")
    refused = helper.post(f"/asistido/cuentas/{enrolment.pk}/reenviar/", follow=True)
    assert "ya eligió su contraseña" in refused.content.decode()
    assert len(sms_file.sent()) == 2


def test_probing_which_dnis_have_an_account_is_rate_limited(helper, citizen, settings):
    settings.TAMBO_RATE_LIMITS = {**settings.TAMBO_RATE_LIMITS, "desk_account": "2/3600"}
    existing = {**FORM, "document_number": citizen.document_number}
    assert helper.post("/asistido/cuentas/nueva/", existing).status_code == 422
    assert helper.post("/asistido/cuentas/nueva/", existing).status_code == 422
    third = helper.post("/asistido/cuentas/nueva/", existing)
    assert third.status_code == 429 and "Ya hay una cuenta" not in third.content.decode()
