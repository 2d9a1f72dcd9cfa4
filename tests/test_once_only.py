"""Requirements obtained from another agency at filing (issue 5, parts 4 and 6).

MTC's RADIOAFICIONADO declares the premises' operating licence ``obtained_from`` MDSI's
licences service. The provider is the live server's node (``network`` fixture of
tests/test_exchange.py); the fetch runs as the background task after the filing commits.
"""

from __future__ import annotations

import datetime as dt
import http.server
import io
import json
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import yaml
from django.conf import settings as django_settings
from django.core.management import call_command
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from tambo.cases import actions, evidence
from tambo.cases.models import Document, Filing, ObtainedEvidence
from tambo.cases.tasks import fetch_evidence_task
from tambo.catalog.loader import CatalogError, load_directory
from tambo.core import clock
from tambo.core.models import AuditEntry
from tambo.exchange.models import ExchangeLog
from tambo.exchange.registry import write_agency
from tambo.exchange.signing import Answer, sign_answer

from . import test_exchange
from .conftest import answers_for, login_official, make_official, pdf_upload, procedure

SOURCE = Path(django_settings.TAMBO_CATALOG_DIR)
# The provider node and an approved MDSI licence for the holder (tests/test_exchange.py).
network, licence = test_exchange.network, test_exchange.licence


def file_radio(citizen, *, upload_instead: bool = False) -> Filing:
    proc = procedure("RADIOAFICIONADO", "MTC")
    draft = actions.start_draft(citizen, proc.current_version)
    actions.save_answers(citizen, draft.pk, answers_for(proc))
    for field in proc.current_version.file.form:
        if field.type == "file" and (field.required or upload_instead):
            actions.attach_document(citizen, draft.pk, field.name, pdf_upload(), "doc.pdf")
    return actions.submit_draft(citizen, draft.pk).filing


def run_worker() -> None:
    call_command(
        "db_worker", "--batch", "--no-startup-delay", "--max-tasks", "1", stdout=io.StringIO()
    )


def test_filing_queues_the_fetch_and_the_worker_obtains_the_licence(client, licence):
    holder = licence.citizen
    filing = file_radio(holder)
    row = ObtainedEvidence.objects.get(filing=filing)
    assert (row.status, row.provider, row.requirement) == ("pending", "MDSI", "licencia_local")
    assert row.query == {"document_type": "dni", "document_number": "40111222"}
    queued = DBTaskResult.objects.get(task_path=fetch_evidence_task.module_path)
    assert queued.status == "READY" and queued.args_kwargs["args"] == [row.pk]

    run_worker()
    row.refresh_from_db()
    assert row.status == "obtained" and row.attempts == 1 and row.obtained_at is not None
    assert [x["number"] for x in row.data["licences"]] == [licence.number]
    sent = ExchangeLog.objects.get(direction="out", request_id=row.request_id)
    assert sent.filing_number == filing.number and sent.procedure == "RADIOAFICIONADO"
    assert sent.legal_basis.startswith("TUO de la Ley 27444, art. 48")
    assert AuditEntry.objects.filter(
        action="filing.evidence_obtained", object_id=filing.number
    ).exists()

    client.force_login(holder)
    page = client.get(reverse("cases:receipt", args=[filing.number])).content.decode()
    assert "Documentos que no tuvo que traer" in page and "MDSI" in page
    assert row.obtained_at.astimezone(clock.LIMA).strftime("%Y-%m-%d") in page


def test_the_form_hides_the_obtained_upload_and_the_review_names_the_agency(client, licence):
    holder = licence.citizen
    proc = procedure("RADIOAFICIONADO", "MTC")
    draft = actions.start_draft(holder, proc.current_version)
    client.force_login(holder)
    form = client.get(reverse("cases:draft", args=[draft.pk])).content.decode()
    details = form[form.index('id="instead-licencia_local"') :]
    assert "Prefiero subir el documento" in details[: details.index("</details>")]
    assert 'name="licencia_local"' in details[: details.index("</details>")]
    review = client.get(reverse("cases:review", args=[draft.pk])).content.decode()
    assert "lo obtendremos de MDSI al presentar" in review


def test_a_citizen_who_uploads_it_instead_is_not_fetched(licence):
    filing = file_radio(licence.citizen, upload_instead=True)
    assert not ObtainedEvidence.objects.filter(filing=filing).exists()
    assert Document.objects.filter(filing=filing, field_name="licencia_local").exists()


def test_provider_down_filing_succeeds_retries_with_backoff_then_obtains(
    settings, client, licence, tmp_path
):
    settings.TAMBO_EXCHANGE_RETRY_BASE_SECONDS = 60
    live = yaml.safe_load(Path(settings.TAMBO_EXCHANGE_AGENCIES).read_text())
    mdsi = next(a for a in live["agencies"] if a["code"] == "MDSI")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    write_agency("MDSI", dead, mdsi["public_key"])

    # Filed and first tried "200 s ago", so that the third attempt is due now (the
    # signature library checks the real time, not Tambo's clock).
    moment = clock.now() - dt.timedelta(seconds=200)
    with clock.frozen(moment):
        filing = file_radio(licence.citizen)  # the filing does not wait for the network
    row = ObtainedEvidence.objects.get(filing=filing)
    with clock.frozen(moment):
        assert evidence.fetch(row.pk) == "pending"
        row.refresh_from_db()
        assert row.attempts == 1 and row.error_code == "provider_unavailable"
        assert row.next_attempt_at == moment + dt.timedelta(seconds=60)
        assert evidence.fetch(row.pk) == "pending"  # run early (a duplicate task): no attempt
        row.refresh_from_db()
        assert row.attempts == 1
    with clock.frozen(moment + dt.timedelta(seconds=60)):
        assert evidence.fetch(row.pk) == "pending"
        row.refresh_from_db()
        assert row.attempts == 2
        assert row.next_attempt_at == moment + dt.timedelta(seconds=180)  # waits doubled
    queued = DBTaskResult.objects.filter(
        task_path=fetch_evidence_task.module_path,
        status="READY",
        run_after__gt=moment,
        run_after__lt=moment + dt.timedelta(days=1),
    )
    assert sorted(t.run_after for t in queued) == [
        moment + dt.timedelta(seconds=60),
        moment + dt.timedelta(seconds=180),
    ]
    official = make_official("evaluadora", "MTC", ["evaluator"])
    login_official(client, official)
    case = client.get(reverse("office:case", args=[filing.number])).content.decode()
    assert "Pendiente" in case and "provider_unavailable" in case

    write_agency("MDSI", mdsi["node"], mdsi["public_key"])  # the provider is back
    assert evidence.fetch(row.pk) == "obtained"
    row.refresh_from_db()
    assert row.attempts == 3 and row.last_error == ""


def test_the_last_retry_fails_the_evidence(settings, licence):
    settings.TAMBO_EXCHANGE_MAX_ATTEMPTS = 2
    settings.TAMBO_EXCHANGE_RETRY_BASE_SECONDS = 0  # the second attempt is due at once
    live = yaml.safe_load(Path(settings.TAMBO_EXCHANGE_AGENCIES).read_text())
    mdsi = next(a for a in live["agencies"] if a["code"] == "MDSI")
    write_agency("MDSI", "http://127.0.0.1:9", mdsi["public_key"])
    row = ObtainedEvidence.objects.get(filing=file_radio(licence.citizen))
    assert evidence.fetch(row.pk) == "pending"
    assert evidence.fetch(row.pk) == "failed"
    row.refresh_from_db()
    assert row.next_attempt_at is None
    assert AuditEntry.objects.filter(action="filing.evidence_failed").count() == 1


@pytest.fixture
def hanging_node():
    """A node that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_hanging_provider_times_out_within_the_limit(settings, licence, hanging_node):
    settings.TAMBO_EXCHANGE_TIMEOUT = 0.5
    live = yaml.safe_load(Path(settings.TAMBO_EXCHANGE_AGENCIES).read_text())
    mdsi = next(a for a in live["agencies"] if a["code"] == "MDSI")
    write_agency("MDSI", hanging_node, mdsi["public_key"])
    row = ObtainedEvidence.objects.get(filing=file_radio(licence.citizen))
    started = time.monotonic()
    assert evidence.fetch(row.pk) == "pending"
    assert time.monotonic() - started < 3
    row.refresh_from_db()
    assert row.error_code == "provider_timeout" and row.attempts == 1
    assert ExchangeLog.objects.get(direction="out").outcome == "provider_timeout"


def _services_copy(settings, tmp_path, change) -> None:
    data = yaml.safe_load(Path(settings.TAMBO_EXCHANGE_SERVICES).read_text())
    change(data["services"][0])
    path = tmp_path / "services.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    settings.TAMBO_EXCHANGE_SERVICES = path


def test_a_refusal_fails_at_once_and_the_citizen_uploads_instead(
    settings, client, licence, tmp_path
):
    filing = file_radio(licence.citizen)
    row = ObtainedEvidence.objects.get(filing=filing)
    # The registry (the same on both sides here) withdraws MTC's access after the filing.
    _services_copy(
        settings,
        tmp_path,
        lambda s: s.update(access=[a for a in s["access"] if a["consumer"] != "MTC"]),
    )
    assert evidence.fetch(row.pk) == "failed"
    row.refresh_from_db()
    assert row.error_code == "not_authorised" and row.attempts == 1
    assert DBTaskResult.objects.filter(task_path=fetch_evidence_task.module_path).count() == 1

    client.force_login(licence.citizen)
    page = client.get(reverse("cases:filing", args=[filing.number])).content.decode()
    assert "No pudimos obtenerlo de MDSI" in page
    url = reverse("cases:upload_instead", args=[filing.number, "licencia_local"])
    refused = client.post(url, {})
    assert refused.status_code == 422 and "Elija el archivo" in refused.content.decode()
    bad = io.BytesIO(b"not a pdf at all")
    bad.name = "x.pdf"
    assert client.post(url, {"archivo": bad}).status_code == 422
    assert not Document.objects.filter(filing=filing, field_name="licencia_local").exists()
    done = client.post(url, {"archivo": pdf_upload("licencia.pdf")})
    assert done.status_code == 302
    row.refresh_from_db()
    assert row.status == "uploaded"
    assert Document.objects.filter(filing=filing, field_name="licencia_local").count() == 1
    assert client.post(url, {"archivo": pdf_upload()}).status_code == 409
    assert AuditEntry.objects.filter(action="filing.evidence_uploaded").count() == 1


@pytest.fixture
def drifted_node():
    """MDSI's node after a change the registry does not know of: it signs, with MDSI's real
    key, answers that break the registry's answer schema (no ``licences``)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            nonce = re.search(r'nonce="([^"]+)"', self.headers["signature-input"]).group(1)
            body = json.dumps({"holder": {"document_type": "dni"}}).encode()
            headers = {
                "content-type": "application/json",
                "tambo-request-id": self.headers["tambo-request-id"],
                "tambo-request-nonce": nonce,
            }
            sign_answer(Answer(200, headers), body, "MDSI")
            self.send_response(200)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_answer_that_breaks_the_schema_fails_as_bad_answer(
    settings, licence, drifted_node, caplog
):
    filing = file_radio(licence.citizen)
    row = ObtainedEvidence.objects.get(filing=filing)
    live = yaml.safe_load(Path(settings.TAMBO_EXCHANGE_AGENCIES).read_text())
    mdsi = next(a for a in live["agencies"] if a["code"] == "MDSI")
    write_agency("MDSI", drifted_node, mdsi["public_key"])
    assert evidence.fetch(row.pk) == "failed"
    row.refresh_from_db()
    assert row.error_code == "bad_answer" and "esquema" in row.last_error
    assert row.data is None and row.attempts == 1
    assert ExchangeLog.objects.get(direction="out").outcome == "bad_answer"
    assert "bad_answer" in caplog.text
    assert Filing.objects.filter(pk=filing.pk, status=filing.status).exists()
    assert AuditEntry.objects.filter(action="filing.evidence_failed").count() == 1


def test_the_once_only_figure_counts_obtained_documents_per_procedure_and_month(client, licence):
    holder = licence.citizen
    rows = [ObtainedEvidence.objects.get(filing=file_radio(holder)) for _ in range(3)]
    # Two obtained in March (one at 23:30 Lima on the 31st, already April in UTC), one failed.
    march = dt.datetime(2026, 3, 10, 15, tzinfo=dt.UTC)
    late = dt.datetime(2026, 4, 1, 4, 30, tzinfo=dt.UTC)
    ObtainedEvidence.objects.filter(pk=rows[0].pk).update(status="obtained", obtained_at=march)
    ObtainedEvidence.objects.filter(pk=rows[1].pk).update(status="obtained", obtained_at=late)
    ObtainedEvidence.objects.filter(pk=rows[2].pk).update(status="failed")
    expected = [
        {"agency": "MTC", "procedure": "RADIOAFICIONADO", "month": "2026-03", "documents": 2}
    ]
    assert evidence.once_only_figure() == expected
    assert evidence.once_only_figure("MDSI") == []

    public = client.get("/api/v1/open-data/once-only")
    assert public.status_code == 200 and public.json()["rows"] == expected
    login_official(client, make_official("jefa", "MTC", ["supervisor"]))
    home = client.get(reverse("office:home")).content.decode()
    assert "ya no tuvieron que traer" in home and "RADIOAFICIONADO" in home


def _catalog_with(tmp_path: Path, edit) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(SOURCE, target)
    path = target / "procedures" / "MTC" / "RADIOAFICIONADO.yaml"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return target


def test_the_loader_refuses_an_unknown_service_with_file_and_line(db, tmp_path):
    bad = _catalog_with(
        tmp_path, lambda t: t.replace("service: licencias-funcionamiento", "service: nada")
    )
    with pytest.raises(CatalogError) as error:
        load_directory(bad)
    message = str(error.value)
    assert (
        "RADIOAFICIONADO.yaml:" in message and "'nada/1' is not in the exchange registry" in message
    )
    line = int(message.split("RADIOAFICIONADO.yaml:")[1].split(":")[0])
    source = (bad / "procedures" / "MTC" / "RADIOAFICIONADO.yaml").read_text().splitlines()
    assert "obtained_from" in source[line - 1] or "service" in source[line - 1]


def test_the_loader_refuses_an_agency_without_an_access_rule(db, tmp_path, settings):
    _services_copy(
        settings,
        tmp_path,
        lambda s: s.update(access=[a for a in s["access"] if a["consumer"] != "MTC"]),
    )
    with pytest.raises(CatalogError) as error:
        load_directory(_catalog_with(tmp_path, lambda t: t))
    assert "the registry gives MTC no access to 'licencias-funcionamiento/1'" in str(error.value)
