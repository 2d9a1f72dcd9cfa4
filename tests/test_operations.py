"""Liveness, readiness, the 503 answer to a database outage, request ids and JSON logs."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys

import pytest
from django.db import OperationalError

from tambo.core import clock, health
from tambo.core.logs import JsonFormatter, RequestIdFilter, logging_config
from tambo.identity.models import User

from .conftest import token_client


def test_liveness_answers_without_the_database(client):
    # No django_db mark: any database access here would raise.
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_readiness_checks_the_database_and_migrations(client):
    response = client.get("/health/ready")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"


@pytest.mark.django_db
def test_readiness_is_503_when_the_database_fails(client, monkeypatch):
    from django.db import connections

    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connections["default"], "cursor", broken_cursor)
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"
    assert response["Retry-After"]


@pytest.mark.django_db
def test_api_request_during_an_outage_gets_503_service_unavailable(citizen, monkeypatch):
    api = token_client(citizen)
    from tambo.cases import queries

    def down(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(queries, "my_filings_page", down)
    response = api.get("/api/v1/filings")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0


@pytest.mark.django_db
def test_page_during_an_outage_gets_a_503_page_not_a_500(web, monkeypatch):
    from tambo.cases import queries

    def down(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(queries, "my_filings_page", down)
    response = web.get("/mis-expedientes/")
    assert response.status_code == 503, response.status_code
    assert "no está disponible" in response.content.decode()
    assert response["Retry-After"]


def test_handler500_answers_503_for_an_outage_raised_outside_a_view(rf):
    request = rf.get("/")
    try:
        raise OperationalError("terminating connection due to administrator command")
    except OperationalError:
        response = health.server_error(request)
    assert response.status_code == 503
    try:
        raise RuntimeError("bug")
    except RuntimeError:
        assert health.server_error(request).status_code == 500


@pytest.mark.django_db
def test_request_id_is_echoed_or_generated(client):
    given = client.get("/health/live", headers={"X-Request-ID": "abc12345-proxy"})
    assert given["X-Request-ID"] == "abc12345-proxy"
    made = client.get("/health/live", headers={"X-Request-ID": "bad id\nwith newline"})
    assert made["X-Request-ID"] != "bad id\nwith newline"
    assert len(made["X-Request-ID"]) == 32
    assert client.get("/health/live")["X-Request-ID"] != made["X-Request-ID"]


@pytest.mark.django_db
def test_every_log_line_of_a_request_carries_its_id_and_the_access_line_is_complete(
    citizen, monkeypatch
):
    """A failing API request logs its error and its access line, both with the request id."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep()
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    from tambo.cases import queries

    def boom(*args, **kwargs):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(queries, "my_filings_page", boom)
    try:
        response = token_client(citizen).get(
            "/api/v1/filings?access_code=SECRET", headers={"X-Request-ID": "req-0001-test"}
        )
    finally:
        root.removeHandler(handler)
    assert response.status_code == 500
    mine = [r for r in records if r.request_id == "req-0001-test"]
    assert any(r.levelno >= logging.ERROR and r.exc_info for r in mine), "error line lacks the id"
    access = [r for r in mine if r.name == "tambo.access"]
    assert len(access) == 1
    line = json.loads(JsonFormatter().format(access[0]))
    assert line["request_id"] == "req-0001-test"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/v1/filings", 500)
    assert line["user_id"] == citizen.pk
    assert isinstance(line["duration_ms"], float)
    assert "SECRET" not in json.dumps(line)


def test_json_formatter_writes_one_parseable_line_with_the_traceback():
    try:
        raise ValueError("bad value")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed %s", ("here",), exc_info=sys.exc_info()
        )
    RequestIdFilter().filter(record)
    text = JsonFormatter().format(record)
    assert "\n" not in text
    line = json.loads(text)
    assert line["message"] == "failed here" and line["level"] == "ERROR"
    assert line["request_id"] == "-"
    assert "ValueError: bad value" in line["exc"]


def test_production_logs_json_and_development_text():
    assert logging_config("json", "INFO")["handlers"]["console"]["formatter"] == "json"
    assert logging_config("text", "INFO")["handlers"]["console"]["formatter"] == "text"


@pytest.mark.django_db
def test_generated_expedientes_spread_over_agencies_units_states_and_keep_numbers_unique(catalog):
    """`tambo demo --scale N` and the back-office bench share this generator (PostgreSQL only)."""
    from django.db import connection

    from tambo.cases import actions
    from tambo.cases.models import Filing
    from tambo.catalog.models import Agency
    from tambo.demo import generate

    from .conftest import answers_for, without_file_field

    if connection.vendor != "postgresql":
        with pytest.raises(RuntimeError, match="PostgreSQL"):
            generate.generate_filings(10, dt.date(2026, 6, 1), [1])
        return
    citizens = generate.make_citizens(5, prefix="gen-test")
    assert generate.make_citizens(5, prefix="gen-test") == citizens  # created once
    made = generate.generate_filings(700, dt.date(2026, 6, 1), citizens)
    assert made == 700
    rows = Filing.objects.filter(channel=generate.CHANNEL)
    assert rows.count() == 700
    assert rows.values("agency").distinct().count() == Agency.objects.count()
    assert rows.values("unit").distinct().count() >= 5
    assert set(rows.values_list("status", flat=True)) >= {"received", "in_evaluation", "observed"}
    assert rows.values("citizen").distinct().count() == 5
    # A real filing afterwards takes the number after the generated ones.
    proc = without_file_field(catalog)
    citizen = User.objects.get(pk=citizens[0])
    with clock.frozen(dt.datetime(2026, 6, 2, 10, tzinfo=clock.LIMA)):
        filing = actions.file_directly(citizen, proc, answers_for(proc)).filing
    same_agency = Filing.objects.filter(agency=proc.agency)
    assert int(filing.number.rsplit("-", 1)[1]) == same_agency.count()
    assert same_agency.values("number").distinct().count() == same_agency.count()


def test_demo_scale_refuses_sqlite_with_a_clear_message(settings):
    from django.core.management import CommandError, call_command
    from django.db import connection

    if connection.vendor == "postgresql":
        pytest.skip("the PostgreSQL pass runs the generator itself (test above)")
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("demo", "--scale", "10", "--catalog", "/nonexistent")


def test_queue_reads_use_the_primary_without_a_replica_and_migrations_stay_on_the_primary():
    from tambo.core.replica import PrimaryReplicaRouter, dashboard_alias

    assert dashboard_alias() == "default"
    router = PrimaryReplicaRouter()
    assert router.allow_migrate("default", "cases") and not router.allow_migrate("replica", "cases")
    assert router.db_for_write(object) == "default"


@pytest.mark.django_db
def test_files_and_rows_a_crash_left_without_owner_are_removed_and_nothing_else(citizen, catalog):
    import os

    from django.core.files.base import ContentFile

    from tambo.cases import actions
    from tambo.cases.cleanup import remove_orphans
    from tambo.cases.models import Document

    from .conftest import pdf_upload, with_file_field

    proc = with_file_field(catalog)
    draft = actions.start_draft(citizen, proc.current_version)
    field = next(f.name for f in proc.current_version.file.form if f.type == "file")
    unlinked = actions.attach_document(citizen, draft.pk, field, pdf_upload(), "a.pdf")
    # Replacing it unlinks the first one, to be deleted after commit — which the test's
    # transaction never reaches: exactly what a kill -9 right after the commit leaves.
    kept = actions.attach_document(citizen, draft.pk, field, pdf_upload(), "b.pdf")
    assert Document.objects.get(pk=unlinked.pk).draft_id is None
    storage = Document.file.field.storage
    old_orphan = storage.save("documents/2026/01/orphan-old", ContentFile(b"x"))
    new_orphan = storage.save("documents/2026/01/orphan-new", ContentFile(b"y"))
    hours_ago = dt.datetime.now().timestamp() - 7200
    os.utime(storage.path(old_orphan), (hours_ago, hours_ago))
    os.utime(storage.path(kept.file.name), (hours_ago, hours_ago))

    assert remove_orphans() == (1, 1)
    assert not Document.objects.filter(pk=unlinked.pk).exists()
    assert not storage.exists(unlinked.file.name)
    assert not storage.exists(old_orphan)
    assert storage.exists(new_orphan), "a file still within the upload grace period was removed"
    assert storage.exists(kept.file.name) and Document.objects.filter(pk=kept.pk).exists()
    assert remove_orphans() == (0, 0)
