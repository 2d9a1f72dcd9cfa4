"""The JSON API: catalogue, drafts, uploads, idempotent filing, my expedientes, status, errors."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tambo.cases.models import Draft, Filing
from tambo.identity.models import ApiToken
from tambo.identity.tokens import user_for_token

from .conftest import answers_for, pdf_upload, with_file_field, without_file_field

pytestmark = pytest.mark.django_db


def post_json(client, url, body, **headers):
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def assert_error(response, status: int, code: str, field: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    if field is not None:
        assert field in body["error"]["fields"] or body["error"]["field"] == field
    return body


def test_openapi_document_lists_every_citizen_action(client):
    spec = client.get("/api/v1/openapi.json").json()
    paths = set(spec["paths"])
    for expected in [
        "/api/v1/procedures",
        "/api/v1/procedures/{agency}/{code}",
        "/api/v1/drafts",
        "/api/v1/drafts/{draft_id}",
        "/api/v1/drafts/{draft_id}/documents/{field}",
        "/api/v1/drafts/{draft_id}/submit",
        "/api/v1/filings",
        "/api/v1/filings/{number}",
        "/api/v1/status",
        "/api/v1/agencies",
    ]:
        assert expected in paths


def test_catalogue_search_and_procedure_detail_with_its_form_schema(client, catalog):
    results = {
        (r["agency"], r["code"]) for r in client.get("/api/v1/procedures", {"q": "LICENCIA"}).json()
    }
    named = {(p.agency.code, p.code) for p in catalog if "licencia" in p.name.lower()}
    assert named and named <= results
    proc = with_file_field(catalog)
    detail = client.get(f"/api/v1/procedures/{proc.agency.code}/{proc.code}").json()
    schema = detail["answers_schema"]
    form = proc.current_version.file.form
    assert set(schema["properties"]) == {f.name for f in form if f.type != "file"}
    assert {f["name"] for f in detail["fields"]} == {f.name for f in form}
    assert client.get("/api/v1/procedures/NOPE/NOPE").status_code == 404


def test_citizen_files_through_the_api_with_an_upload(api, citizen, catalog):
    proc = with_file_field(catalog)
    draft = post_json(api, "/api/v1/drafts", {"agency": proc.agency.code, "procedure": proc.code})
    assert draft.status_code == 201
    draft_id = draft.json()["id"]
    saved = api.patch(
        f"/api/v1/drafts/{draft_id}",
        data=json.dumps({"answers": answers_for(proc)}),
        content_type="application/json",
    )
    assert saved.status_code == 200, saved.content
    for field in (f for f in proc.current_version.file.form if f.type == "file"):
        up = api.post(f"/api/v1/drafts/{draft_id}/documents/{field.name}", {"file": pdf_upload()})
        assert up.status_code == 201, up.content
        assert len(up.json()["sha256"]) == 64
    filed = api.post(f"/api/v1/drafts/{draft_id}/submit", headers={"Idempotency-Key": "k-1"})
    assert filed.status_code == 201, filed.content
    body = filed.json()
    filing = Filing.objects.get(number=body["number"])
    assert filing.citizen == citizen
    assert body["due_on"] == filing.due_on.isoformat()
    assert {d["sha256"] for d in body["documents"]} == set(
        filing.documents.values_list("sha256", flat=True)
    )
    again = api.post(f"/api/v1/drafts/{draft_id}/submit", headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 200
    assert again.json()["number"] == body["number"]
    assert Filing.objects.count() == 1
    listed = api.get("/api/v1/filings").json()
    assert [f["number"] for f in listed] == [body["number"]]
    detail = api.get(f"/api/v1/filings/{body['number']}").json()
    assert detail["timeline"][0]["title"] == "Presentado y recibido"
    pdf = api.get(f"/api/v1/filings/{body['number']}/receipt.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")


def test_direct_filing_with_the_same_idempotency_key_creates_one_expediente(api, catalog):
    proc = without_file_field(catalog)
    body = {"agency": proc.agency.code, "procedure": proc.code, "answers": answers_for(proc)}
    first = post_json(api, "/api/v1/filings", body, **{"Idempotency-Key": "same"})
    second = post_json(api, "/api/v1/filings", body, **{"Idempotency-Key": "same"})
    assert first.status_code == 201, first.content
    assert second.status_code == 200
    assert first.json()["number"] == second.json()["number"]
    assert Filing.objects.count() == 1
    assert Draft.objects.count() == 0  # a one-request filing keeps no draft


def test_reusing_an_idempotency_key_for_another_procedure_is_a_conflict(api, catalog):
    procs = [
        p
        for p in catalog
        if not any(f.type == "file" and f.required for f in p.current_version.file.form)
    ]
    a, b = procs[0], procs[1]
    post_json(
        api,
        "/api/v1/filings",
        {"agency": a.agency.code, "procedure": a.code, "answers": answers_for(a)},
        **{"Idempotency-Key": "k"},
    )
    response = post_json(
        api,
        "/api/v1/filings",
        {"agency": b.agency.code, "procedure": b.code, "answers": answers_for(b)},
        **{"Idempotency-Key": "k"},
    )
    assert_error(response, 409, "idempotency_key_reused")


def test_invalid_answers_get_a_422_naming_each_field_and_nothing_is_filed(api, catalog):
    proc = without_file_field(catalog)
    answers = answers_for(proc)
    email = next(f.name for f in proc.current_version.file.form if f.type == "email")
    answers[email] = "nope"
    answers["not_a_field"] = "x"
    response = post_json(
        api,
        "/api/v1/filings",
        {"agency": proc.agency.code, "procedure": proc.code, "answers": answers},
    )
    body = assert_error(response, 422, "validation_error")
    assert email in body["error"]["fields"]
    assert "not_a_field" in body["error"]["fields"]
    assert not Filing.objects.exists()
    assert not Draft.objects.exists()


@pytest.mark.parametrize(
    ("method", "url", "payload"),
    [
        ("post", "/api/v1/filings", "{not json"),
        ("post", "/api/v1/filings", json.dumps({"agency": 3})),
        ("post", "/api/v1/filings", json.dumps([1, 2, 3])),
        ("post", "/api/v1/drafts", json.dumps({"agency": "MDSI"})),
        ("patch", "/api/v1/drafts/not-a-uuid", json.dumps({"answers": {}})),
        ("post", "/api/v1/status", json.dumps({"number": 5})),
    ],
)
def test_malformed_requests_get_a_4xx_json_error_never_a_500(api, catalog, method, url, payload):
    response = getattr(api, method)(url, data=payload, content_type="application/json")
    assert 400 <= response.status_code < 500, response.content
    assert response.json()["error"]["code"]


def test_requests_without_credentials_get_401_json(client, catalog):
    assert_error(client.get("/api/v1/filings"), 401, "not_authenticated")
    proc = without_file_field(catalog)
    response = post_json(
        client,
        "/api/v1/filings",
        {"agency": proc.agency.code, "procedure": proc.code, "answers": {}},
    )
    assert response.status_code in (401, 403)


def test_a_citizen_cannot_read_or_change_another_citizens_draft_or_expediente(
    api, other_api, catalog
):
    proc = without_file_field(catalog)
    draft_id = post_json(
        api, "/api/v1/drafts", {"agency": proc.agency.code, "procedure": proc.code}
    ).json()["id"]
    assert other_api.get(f"/api/v1/drafts/{draft_id}").status_code == 404
    patch = other_api.patch(
        f"/api/v1/drafts/{draft_id}",
        data=json.dumps({"answers": {}}),
        content_type="application/json",
    )
    assert patch.status_code == 404
    assert other_api.post(f"/api/v1/drafts/{draft_id}/submit").status_code == 404
    assert other_api.delete(f"/api/v1/drafts/{draft_id}").status_code == 404
    api.patch(
        f"/api/v1/drafts/{draft_id}",
        data=json.dumps({"answers": answers_for(proc)}),
        content_type="application/json",
    )
    number = api.post(f"/api/v1/drafts/{draft_id}/submit").json()["number"]
    assert other_api.get(f"/api/v1/filings/{number}").status_code == 404
    assert other_api.get(f"/api/v1/filings/{number}/receipt.pdf").status_code == 404
    assert other_api.get("/api/v1/filings").json() == []


def test_upload_refusals_are_json_errors_on_the_field(api, catalog):
    proc = with_file_field(catalog)
    field = next(f for f in proc.current_version.file.form if f.type == "file")
    draft_id = post_json(
        api, "/api/v1/drafts", {"agency": proc.agency.code, "procedure": proc.code}
    ).json()["id"]
    empty = pdf_upload()
    empty.seek(0)
    empty.truncate()
    response = api.post(f"/api/v1/drafts/{draft_id}/documents/{field.name}", {"file": empty})
    body = assert_error(response, 422, "validation_error", field.name)
    assert "vacío" in body["error"]["fields"][field.name]
    response = api.post(
        f"/api/v1/drafts/{draft_id}/documents/no_such_field", {"file": pdf_upload()}
    )
    assert_error(response, 422, "validation_error", "no_such_field")


def test_status_by_number_and_access_code_without_login(api, client, catalog):
    proc = without_file_field(catalog)
    filed = post_json(
        api,
        "/api/v1/filings",
        {"agency": proc.agency.code, "procedure": proc.code, "answers": answers_for(proc)},
    ).json()
    ok = post_json(
        client, "/api/v1/status", {"number": filed["number"], "access_code": filed["access_code"]}
    )
    assert ok.status_code == 200
    assert set(ok.json()) == {
        "number",
        "status",
        "status_label",
        "received_on",
        "due_on",
        "timeline",
    }
    bad = post_json(
        client, "/api/v1/status", {"number": filed["number"], "access_code": "XXXXXXXX"}
    )
    assert_error(bad, 404, "not_found")


def test_files_beyond_the_per_expediente_limit_are_refused(api, catalog, settings):
    from tambo.demo.samples import MINIMAL_PDF

    proc = next(
        p for p in catalog if sum(f.type == "file" for f in p.current_version.file.form) >= 2
    )
    first, second = [f for f in proc.current_version.file.form if f.type == "file"][:2]
    settings.TAMBO_MAX_FILING_BYTES = len(MINIMAL_PDF) + 10
    draft_id = post_json(
        api, "/api/v1/drafts", {"agency": proc.agency.code, "procedure": proc.code}
    ).json()["id"]
    assert (
        api.post(
            f"/api/v1/drafts/{draft_id}/documents/{first.name}", {"file": pdf_upload()}
        ).status_code
        == 201
    )
    response = api.post(
        f"/api/v1/drafts/{draft_id}/documents/{second.name}", {"file": pdf_upload()}
    )
    body = assert_error(response, 422, "validation_error", second.name)
    assert "en total" in body["error"]["fields"][second.name]
    # Replacing the first file with one of the same size is still allowed.
    assert (
        api.post(
            f"/api/v1/drafts/{draft_id}/documents/{first.name}", {"file": pdf_upload()}
        ).status_code
        == 201
    )


def test_a_file_over_the_per_file_limit_is_refused(api, catalog, settings):
    from tambo.demo.samples import MINIMAL_PDF

    proc = with_file_field(catalog)
    field = next(f for f in proc.current_version.file.form if f.type == "file")
    settings.TAMBO_MAX_FILE_BYTES = len(MINIMAL_PDF) - 1
    draft_id = post_json(
        api, "/api/v1/drafts", {"agency": proc.agency.code, "procedure": proc.code}
    ).json()["id"]
    response = api.post(f"/api/v1/drafts/{draft_id}/documents/{field.name}", {"file": pdf_upload()})
    body = assert_error(response, 422, "validation_error", field.name)
    assert "máximo permitido" in body["error"]["fields"][field.name]


@pytest.mark.django_db
def test_a_revoked_token_or_a_disabled_account_stops_working_at_once(citizen):
    token, raw = ApiToken.issue(citizen, "phone")
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    assert client.get("/api/v1/filings").status_code == 200
    token.delete()
    assert client.get("/api/v1/filings").status_code == 401

    _token, raw = ApiToken.issue(citizen, "laptop")
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    assert client.get("/api/v1/filings").status_code == 200
    citizen.is_active = False
    citizen.save(update_fields=["is_active"])
    assert client.get("/api/v1/filings").status_code == 401


@pytest.mark.django_db
def test_the_token_lookup_returns_the_whole_user(citizen):
    _token, raw = ApiToken.issue(citizen, "phone")
    found = user_for_token(raw)
    assert found == citizen
    assert (found.document_number, found.email, found.is_active) == (
        citizen.document_number,
        citizen.email,
        True,
    )
    assert found.date_joined == citizen.date_joined  # converted like an ORM row (aware)
    assert user_for_token(raw + "x") is None


@pytest.mark.django_db
def test_anonymous_writes_are_401_and_a_session_without_csrf_token_is_403_csrf_failed(
    citizen, catalog
):
    anonymous = Client(enforce_csrf_checks=True)
    body = json.dumps({"agency": "MDSI", "procedure": "ACCESO-INFORMACION"})
    refused = anonymous.post("/api/v1/drafts", body, content_type="application/json")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "not_authenticated"

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(citizen)
    refused = browser.post("/api/v1/drafts", body, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    assert not Draft.objects.exists()
    browser.get("/")  # the page sets the csrftoken cookie
    accepted = browser.post(
        "/api/v1/drafts",
        body,
        content_type="application/json",
        headers={"X-CSRFToken": browser.cookies["csrftoken"].value},
    )
    assert accepted.status_code == 201, accepted.content


@pytest.mark.django_db
def test_the_openapi_declares_every_error_answer_with_the_error_body():
    schema = Client().get("/api/v1/openapi.json").json()
    assert "Error" in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            declared = set(operation["responses"])
            assert {"400", "403", "404", "409", "422"} <= declared, (method, path)
            if operation.get("security"):
                assert "401" in declared, (method, path)
