"""Assisted filing through /api/v1 (same rules as the web), and the rate limits on codes."""

from __future__ import annotations

import io
import re

import pytest
from django.test import Client, override_settings

from tambo.cases.models import AssistedConsent, Draft, Filing
from tambo.core.models import AuditEntry
from tambo.identity import actions as identity_actions
from tambo.inbox.sms import FileSender

from .conftest import (
    PNG_1PX,
    answers_for,
    login_official,
    make_citizen,
    make_official,
    token_client,
    without_file_field,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sms_file(tmp_path):
    path = tmp_path / "sms.jsonl"
    with override_settings(TAMBO_SMS_FILE=path, TAMBO_SMS_BACKEND="tambo.inbox.sms.FileSender"):
        yield FileSender(path)


@pytest.fixture
def intermediary(catalog):
    return make_official("tambo_ana", "MDSI", ["intermediary"], ["MP"])


@pytest.fixture
def desk_api(intermediary) -> Client:
    return token_client(intermediary)


@pytest.fixture
def present(citizen):
    identity_actions.set_phone(citizen, "987654321")
    return citizen


def body(proc, citizen, method="sms") -> dict:
    return {
        "agency": proc.agency.code,
        "procedure": proc.code,
        "document_type": "dni",
        "document_number": citizen.document_number,
        "method": method,
    }


def last_code(sms_file: FileSender) -> str:
    return re.search(r"\b(\d{6})\b", sms_file.sent()[-1]["text"]).group(1)


def test_the_whole_assisted_filing_over_the_api(
    desk_api, intermediary, present, catalog, sms_file, django_capture_on_commit_callbacks
):
    proc = without_file_field(catalog)
    with django_capture_on_commit_callbacks(execute=True):
        made = desk_api.post("/api/v1/assisted/consents", body(proc, present), "application/json")
    assert made.status_code == 201, made.content
    consent = made.json()
    assert consent["status"] == "pending" and consent["sent_to"].endswith("321")
    assert present.phone not in made.content.decode()
    base = f"/api/v1/assisted/consents/{consent['id']}"
    # The SMS leaves after commit; the consent then says it went out.
    assert desk_api.get(base).json()["delivery"] == "sent"
    early = desk_api.post(f"{base}/draft")
    assert early.status_code == 409 and early.json()["error"]["code"] == "consent_missing"
    code = last_code(sms_file)
    wrong = "000000" if code != "000000" else "111111"
    refused = desk_api.post(f"{base}/confirm", {"code": wrong}, "application/json")
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "validation_error"
    assert "code" in refused.json()["error"]["fields"]
    assert desk_api.get(base).json()["attempts_left"] == 4
    granted = desk_api.post(f"{base}/confirm", {"code": code}, "application/json")
    assert granted.status_code == 200 and granted.json()["status"] == "granted"
    draft = desk_api.post(f"{base}/draft")
    assert draft.status_code == 201
    draft_id = draft.json()["id"]
    assert Draft.objects.get(pk=draft_id).citizen == present
    saved = desk_api.patch(
        f"/api/v1/drafts/{draft_id}", {"answers": answers_for(proc)}, "application/json"
    )
    assert saved.status_code == 200, saved.content
    filed = desk_api.post(f"/api/v1/drafts/{draft_id}/submit")
    assert filed.status_code == 201, filed.content
    filing = Filing.objects.get(number=filed.json()["number"])
    assert filing.citizen == present and filing.filed_by == intermediary
    assert str(filing.consent_id) == consent["id"]
    listed = desk_api.get("/api/v1/assisted/filings").json()
    assert [f["number"] for f in listed] == [filing.number]
    entry = AuditEntry.objects.get(action="filing.submitted")
    assert entry.actor_id == intermediary.pk and entry.data["consent"]["method"] == "sms"


def test_paper_consent_over_the_api(desk_api, present, catalog):
    proc = without_file_field(catalog)
    form = {k: v for k, v in body(proc, present).items() if k != "method"}
    missing = desk_api.post("/api/v1/assisted/consents/paper", form)
    assert missing.status_code == 422
    not_a_scan = io.BytesIO(b"not an image")
    not_a_scan.name = "scan.png"
    bad = desk_api.post("/api/v1/assisted/consents/paper", {**form, "scan": not_a_scan})
    assert bad.status_code == 422 and "scan" in bad.json()["error"]["fields"]
    scan = io.BytesIO(PNG_1PX)
    scan.name = "scan.png"
    made = desk_api.post("/api/v1/assisted/consents/paper", {**form, "scan": scan})
    assert made.status_code == 201 and made.json()["status"] == "granted"
    assert AssistedConsent.objects.get().scan_sha256


def test_api_refusals_have_stable_codes(desk_api, api, present, catalog, other_citizen):
    proc = without_file_field(catalog)
    # A citizen is not an intermediary.
    citizen_try = api.post("/api/v1/assisted/consents", body(proc, present), "application/json")
    assert citizen_try.status_code == 403
    assert citizen_try.json()["error"]["code"] == "forbidden"
    # Unknown document; no phone on the account; a method the schema does not know.
    unknown = desk_api.post(
        "/api/v1/assisted/consents",
        {**body(proc, present), "document_number": "99999999"},
        "application/json",
    )
    assert unknown.status_code == 422 and "document_number" in unknown.json()["error"]["fields"]
    no_phone = desk_api.post(
        "/api/v1/assisted/consents", body(proc, other_citizen), "application/json"
    )
    assert no_phone.status_code == 422 and "method" in no_phone.json()["error"]["fields"]
    odd = desk_api.post(
        "/api/v1/assisted/consents", {**body(proc, present), "method": "pigeon"}, "application/json"
    )
    assert odd.status_code == 422 and odd.json()["error"]["code"] == "invalid_request"
    # Another intermediary's consent is not found.
    other = token_client(make_official("tambo_luis", "MDSI", ["intermediary"], ["MP"]))
    made = other.post("/api/v1/assisted/consents", body(proc, present), "application/json")
    assert made.status_code == 201
    theirs = made.json()["id"]
    for answer in (
        desk_api.get(f"/api/v1/assisted/consents/{theirs}"),
        desk_api.post(f"/api/v1/assisted/consents/{theirs}/draft"),
        desk_api.post(
            f"/api/v1/assisted/consents/{theirs}/confirm", {"code": "123456"}, "application/json"
        ),
    ):
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert AssistedConsent.objects.get(pk=theirs).attempts == 0


def test_codes_are_rate_limited_per_citizen_phone(
    desk_api, present, catalog, settings, sms_file, django_capture_on_commit_callbacks
):
    settings.TAMBO_RATE_LIMITS = {**settings.TAMBO_RATE_LIMITS, "consent_code_contact": "2/600"}
    proc = without_file_field(catalog)
    other_desk = token_client(make_official("tambo_luis", "MDSI", ["intermediary"], ["MP"]))
    with django_capture_on_commit_callbacks(execute=True):
        for client in (desk_api, other_desk):
            made = client.post("/api/v1/assisted/consents", body(proc, present), "application/json")
            assert made.status_code == 201
        # A third code to the same phone, even from another desk, waits.
        third = desk_api.post("/api/v1/assisted/consents", body(proc, present), "application/json")
    assert third.status_code == 429 and third.json()["error"]["code"] == "rate_limited"
    assert 0 < int(third["Retry-After"]) <= 600
    assert AssistedConsent.objects.count() == 2 and len(sms_file.sent()) == 2
    # Paper sends nothing and is not limited.
    scan = io.BytesIO(PNG_1PX)
    scan.name = "scan.png"
    form = {k: v for k, v in body(proc, present).items() if k != "method"}
    assert (
        desk_api.post("/api/v1/assisted/consents/paper", {**form, "scan": scan}).status_code == 201
    )


def test_codes_are_rate_limited_per_intermediary_with_a_clear_form_error(
    intermediary, catalog, settings, sms_file
):
    settings.TAMBO_RATE_LIMITS = {**settings.TAMBO_RATE_LIMITS, "consent_code": "2/600"}
    proc = without_file_field(catalog)
    helper = login_official(Client(), intermediary)
    url = f"/asistido/{proc.agency.code}/{proc.code}/"
    for n in range(3):
        person = make_citizen(f"persona{n}", f"4100000{n}")
        identity_actions.set_phone(person, f"98765432{n}")
        answer = helper.post(
            url,
            {"document_type": "dni", "document_number": person.document_number, "method": "sms"},
        )
    assert answer.status_code == 429 and int(answer["Retry-After"]) > 0
    page = answer.content.decode()
    assert "Hizo demasiados intentos" in page and 'href="#field-method"' in page
    assert AssistedConsent.objects.count() == 2
