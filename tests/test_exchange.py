"""Exchange between agencies: RFC 9421 signed requests and answers, access rules, logs.

The provider runs in pytest-django's live server (one node hosting several agencies, as an
installation may); tests/test_exchange_nodes.py runs two separate nodes.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import urllib.error
import urllib.request

import pytest
from django.db import connection
from django.utils import timezone

from tambo.cases import actions
from tambo.cases.models import Filing
from tambo.core import clock
from tambo.core.models import AuditEntry
from tambo.exchange import client, keys
from tambo.exchange.errors import ExchangeError
from tambo.exchange.models import ExchangeLog
from tambo.exchange.registry import write_agency
from tambo.exchange.signing import Message, sign_request
from tambo.identity.models import User
from tambo.privacy.models import AccessEntry

from .conftest import answers_for, make_citizen, pdf_upload, procedure

SERVICE, VERSION = "licencias-funcionamiento", "1"
PURPOSE = client.Purpose("MTC-2026-0000042", "RADIOAFICIONADO", "TUO de la Ley 27444, art. 48")
HOLDER = {"document_type": "dni", "document_number": "40111222"}


@pytest.fixture
def network(settings, tmp_path, live_server, transactional_db, catalog):
    """MDSI, MTC and OSIPTEL registered on the live server's node, each with its own key."""
    settings.TAMBO_EXCHANGE_AGENCIES = tmp_path / "agencies.yaml"
    for code in ("MDSI", "MTC", "OSIPTEL"):
        write_agency(code, live_server.url, keys.create_key(code))
    return live_server.url


@pytest.fixture
def licence(network):
    """An operating licence MDSI granted to the holder (filed, then approved)."""
    holder = make_citizen("bodega", HOLDER["document_number"])
    proc = procedure("LF-RIESGO-BAJO", "MDSI")
    draft = actions.start_draft(holder, proc.current_version)
    actions.save_answers(holder, draft.pk, answers_for(proc))
    for field in proc.current_version.file.form:
        if field.type == "file":
            actions.attach_document(holder, draft.pk, field.name, pdf_upload(), "doc.pdf")
    filing = actions.submit_draft(holder, draft.pk).filing
    # The decision itself is the back office's business (tests/test_office.py); here the
    # register only needs an approved licence.
    Filing.objects.filter(pk=filing.pk).update(status="approved", decided_at=timezone.now())
    return filing


def unsigned(url: str, request_id: str, purpose: dict | None = None) -> Message:
    """A request as the client builds it, before the signature."""
    return Message(
        "POST",
        url,
        {
            "content-type": "application/json",
            "tambo-request-id": request_id,
            "tambo-purpose": json.dumps(purpose or PURPOSE.__dict__, separators=(",", ":")),
        },
    )


def post_signed(
    url: str, body: bytes, agency: str, purpose: dict | None = None
) -> tuple[int, dict]:
    message = unsigned(url, "test-request", purpose)
    sign_request(message, body, agency)
    return send(url, message.headers, body)


def send(url: str, headers: dict, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def body_for(query: dict, purpose: client.Purpose = PURPOSE) -> bytes:
    return json.dumps({"query": query, "purpose": purpose.__dict__}, separators=(",", ":")).encode()


def service_url(node: str) -> str:
    return f"{node}/x/v1/services/{SERVICE}/{VERSION}"


def test_a_signed_request_gets_the_owner_signed_answer_and_both_sides_log_it(licence):
    obtained = client.obtain(
        "MTC", SERVICE, VERSION, HOLDER, PURPOSE, subject_document="dni:40111222"
    )
    assert obtained.provider == "MDSI"
    assert [x["number"] for x in obtained.data["licences"]] == [licence.number]
    logs = ExchangeLog.objects.filter(request_id=obtained.request_id)
    assert {(x.direction, x.outcome) for x in logs} == {("out", "ok"), ("in", "ok")}
    sent = logs.get(direction="out")
    assert "signature" in sent.request_headers and "signature" in sent.answer_headers
    assert sent.filing_number == PURPOSE.filing and sent.legal_basis == PURPOSE.legal_basis
    served = logs.get(direction="in")
    assert served.consumer == "MTC" and served.subject_document == "dni:40111222"
    assert (
        AuditEntry.objects.filter(object_type="exchange", object_id=obtained.request_id).count()
        == 2
    )


def test_an_agency_without_an_access_rule_is_refused_and_it_is_logged(licence):
    with pytest.raises(ExchangeError) as refused:
        client.obtain("OSIPTEL", SERVICE, VERSION, HOLDER, PURPOSE)
    assert refused.value.code == "not_authorised" and not refused.value.retry
    assert set(ExchangeLog.objects.values_list("direction", "outcome")) == {
        ("out", "not_authorised"),
        ("in", "not_authorised"),
    }


def test_unsigned_and_tampered_requests_are_refused(network):
    body = body_for(HOLDER)
    status, answer = send(service_url(network), {"content-type": "application/json"}, body)
    assert (status, answer["error"]["code"]) == (401, "unsigned")

    message = unsigned(service_url(network), "tampered")
    sign_request(message, body, "MTC")
    tampered = body.replace(b"40111222", b"40999999")
    status, answer = send(service_url(network), message.headers, tampered)
    assert (status, answer["error"]["code"]) == (401, "bad_signature")


def test_a_replayed_request_is_refused(network, licence):
    body = body_for(HOLDER)
    message = unsigned(service_url(network), "once")
    sign_request(message, body, "MTC")
    assert send(service_url(network), message.headers, body)[0] == 200
    status, answer = send(service_url(network), message.headers, body)
    assert (status, answer["error"]["code"]) == (401, "replayed")
    # The answer served is in the citizen's "who read my data" log once, written with its
    # message log entry; the refused replay left only its own log entry.
    assert _served_and_seen("once") == (1, 1, 1)
    assert ExchangeLog.objects.filter(request_id="once", outcome="replayed").count() == 1


def _served_and_seen(request_id: str) -> tuple[int, int, int]:
    """(answers served, access entries for the holder, their audit entries)."""
    holder = User.objects.get(document_number=HOLDER["document_number"])
    return (
        ExchangeLog.objects.filter(request_id=request_id, direction="in", outcome="ok").count(),
        AccessEntry.objects.filter(citizen=holder, agency_code="MTC").count(),
        AuditEntry.objects.filter(action="privacy.access", object_id=str(holder.pk)).count(),
    )


def test_an_expired_request_is_refused(network):
    body = body_for(HOLDER)
    message = unsigned(service_url(network), "late")
    with clock.frozen(timezone.now() - dt.timedelta(minutes=10)):
        sign_request(message, body, "MTC")
    status, answer = send(service_url(network), message.headers, body)
    assert (status, answer["error"]["code"]) == (401, "expired")


def test_a_key_not_in_the_registry_is_refused(network, settings, tmp_path):
    body = body_for(HOLDER)
    keys.create_key("INTRUSO")
    # The intruder signs with a key id the registry does not list.
    message = unsigned(service_url(network), "intruder")
    write_agency("INTRUSO", network, keys.create_key("INTRUSO"))
    sign_request(message, body, "INTRUSO")
    registry_text = settings.TAMBO_EXCHANGE_AGENCIES.read_text()
    settings.TAMBO_EXCHANGE_AGENCIES.write_text(registry_text.split("- code: INTRUSO")[0])
    status, answer = send(service_url(network), message.headers, body)
    assert (status, answer["error"]["code"]) == (401, "unknown_key")


def test_a_query_that_breaks_the_schema_and_a_missing_purpose_are_refused(network):
    status, answer = post_signed(service_url(network), body_for({"document_type": "dni"}), "MTC")
    assert (status, answer["error"]["code"]) == (422, "bad_query")
    no_purpose = json.dumps({"query": HOLDER}).encode()
    status, answer = post_signed(service_url(network), no_purpose, "MTC")
    assert (status, answer["error"]["code"]) == (400, "purpose_required")


def test_a_provider_that_hangs_times_out_and_is_logged_as_retryable(network, settings):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections and never answers
    try:
        write_agency("MDSI", f"http://127.0.0.1:{silent.getsockname()[1]}", keys.create_key("MDSI"))
        started = timezone.now()
        with pytest.raises(ExchangeError) as failed:
            client.obtain("MTC", SERVICE, VERSION, HOLDER, PURPOSE, timeout=0.5)
        assert (timezone.now() - started).total_seconds() < 3
    finally:
        silent.close()
    assert failed.value.code == "provider_timeout" and failed.value.retry
    assert ExchangeLog.objects.get(direction="out").outcome == "provider_timeout"


def test_the_registry_and_each_service_openapi_are_published(network):
    with urllib.request.urlopen(f"{network}/x/v1/registry", timeout=10) as response:
        registry = json.loads(response.read())
    assert {a["code"] for a in registry["agencies"]} >= {"MDSI", "MTC"}
    assert "BEGIN PUBLIC KEY" in registry["agencies"][0]["public_key"]
    url = f"{network}/x/v1/services/{SERVICE}/{VERSION}/openapi.json"
    with urllib.request.urlopen(url, timeout=10) as response:
        spec = json.loads(response.read())
    assert spec["openapi"].startswith("3.") and spec["x-owner"] == "MDSI"
    assert spec["info"]["version"] == VERSION


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="several server threads writing at once need a database server (runs in the PostgreSQL pass)",
)
def test_only_one_of_many_concurrent_replays_is_served(network, licence):
    body = body_for(HOLDER)
    message = unsigned(service_url(network), "race")
    sign_request(message, body, "MTC")
    statuses: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: statuses.append(send(service_url(network), message.headers, body)[0])
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses).count(200) == 1
    assert _served_and_seen("race") == (1, 1, 1)
