"""What happens to obtained requirements after the filing (issue 5, part 4).

- The signed receipt lists each obtained requirement with its provider and its state when
  the receipt was issued; it is never re-issued.
- When the evidence arrives, a second signed, verifiable document — the constancia de
  documentos obtenidos — lists what was obtained, from whom and when, in the citizen's
  language, and is deposited in the casilla.
- A lost fetch task (queue emptied, worker killed) is queued again by the sweep, once,
  audited, and a duplicate task never fetches twice.
"""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import tempfile

from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tambo.cases import evidence, sweep
from tambo.cases.evidence_certificate import issue_certificate
from tambo.cases.models import ObtainedEvidence
from tambo.cases.receipt import receipt_pdf
from tambo.cases.tasks import fetch_evidence_task, issue_evidence_certificate_task
from tambo.core import clock
from tambo.core.models import AuditEntry
from tambo.documents.models import IssuedDocument
from tambo.documents.verify import check_pdf
from tambo.exchange.models import ExchangeLog
from tambo.identity.models import User
from tambo.inbox.models import Notice

from . import test_exchange
from .conftest import login_official, make_official
from .test_once_only import file_radio

network, licence = test_exchange.network, test_exchange.licence


def pdf_text(data: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(data)
        handle.flush()
        out = subprocess.run(["pdftotext", handle.name, "-"], capture_output=True, check=True)
    return " ".join(out.stdout.decode().split())


def run_tasks(path: str) -> None:
    """Run every queued task of ``path`` now (the worker, one task at a time)."""
    while DBTaskResult.objects.filter(task_path=path, status="READY").exists():
        call_command(
            "db_worker", "--batch", "--no-startup-delay", "--max-tasks", "1", stdout=io.StringIO()
        )


def fetch_tasks(status: str = "READY"):
    return DBTaskResult.objects.filter(task_path=fetch_evidence_task.module_path, status=status)


def test_the_receipt_lists_the_pending_request_and_the_constancia_what_arrived(client, licence):
    holder = licence.citizen
    filing = file_radio(holder)
    receipt = receipt_pdf(filing)  # downloaded right after filing: the fetch has not run
    text = pdf_text(receipt)
    assert "Documentos que no tuvo que traer" in text
    assert "Licencia de funcionamiento del local de la estación" in text
    assert "MDSI" in text and "Solicitado, pendiente" in text

    run_tasks(fetch_evidence_task.module_path)
    row = ObtainedEvidence.objects.get(filing=filing)
    assert row.status == "obtained"
    # The settled row queued the constancia; the worker issues it.
    assert DBTaskResult.objects.filter(
        task_path=issue_evidence_certificate_task.module_path, status="READY"
    ).exists()
    run_tasks(issue_evidence_certificate_task.module_path)

    document = IssuedDocument.objects.get(subject_id=filing.number, kind="evidence_certificate")
    assert document.agency.code == "MTC"  # issued by the agency that obtained it
    with document.file.open("rb") as handle:
        certificate = handle.read()
    assert check_pdf(certificate).status == "authentic"
    text = pdf_text(certificate)
    assert "Constancia de documentos obtenidos" in text and filing.number in text
    assert "Municipalidad Distrital de San Isidro (MDSI)" in text
    assert row.request_id in text and licence.number in text
    assert row.obtained_at.astimezone(clock.LIMA).strftime("%Y-%m-%d %H:%M:%S") in text

    notice = Notice.objects.get(filing=filing, kind="evidence_obtained")
    assert notice.document_code == document.code and notice.citizen_id == holder.pk
    row.refresh_from_db()
    assert row.reported_at is not None
    # Once: nothing more to issue; the original receipt is unchanged.
    assert issue_certificate(filing.pk) is None
    assert receipt_pdf(filing) == receipt
    client.force_login(holder)
    download = client.get(reverse("cases:issued_document", args=[filing.number, document.code]))
    assert download.status_code == 200 and download.content == certificate
    # The officials of the agency find it on the case page too.
    office = login_official(Client(), make_official("evaluadora", "MTC", ["evaluator"]))
    case = office.get(reverse("office:case", args=[filing.number])).content.decode()
    assert document.code in case and "Constancia de documentos obtenidos" in case


def test_the_constancia_and_the_receipt_are_in_the_citizens_language(licence):
    holder = licence.citizen
    User.objects.filter(pk=holder.pk).update(language="en")
    holder.refresh_from_db()
    filing = file_radio(holder)
    assert "Requested, pending" in pdf_text(receipt_pdf(filing))
    assert evidence.fetch(ObtainedEvidence.objects.get(filing=filing).pk) == "obtained"
    document = issue_certificate(filing.pk)
    with document.file.open("rb") as handle:
        text = pdf_text(handle.read())
    assert "Certificate of documents obtained" in text and "Obtained" in text
    notice = Notice.objects.get(filing=filing, kind="evidence_obtained")
    assert notice.title == "Documents obtained from other agencies"


def test_no_constancia_while_pending_or_when_nothing_was_obtained(settings, licence):
    filing = file_radio(licence.citizen)
    assert issue_certificate(filing.pk) is None  # still pending
    ObtainedEvidence.objects.filter(filing=filing).update(status="failed")
    assert issue_certificate(filing.pk) is None  # nothing obtained: the citizen uploads
    assert not IssuedDocument.objects.filter(kind="evidence_certificate").exists()


def test_the_sweep_issues_a_constancia_whose_task_was_lost(licence):
    filing = file_radio(licence.citizen)
    assert evidence.fetch(ObtainedEvidence.objects.get(filing=filing).pk) == "obtained"
    DBTaskResult.objects.all().delete()  # the queue is lost before the constancia is issued
    assert sweep.issue_pending_documents() == 0  # within the grace the task would do it
    ObtainedEvidence.objects.filter(filing=filing).update(
        obtained_at=timezone.now() - dt.timedelta(minutes=10)
    )
    assert sweep.issue_pending_documents() == 1
    assert sweep.issue_pending_documents() == 0
    assert IssuedDocument.objects.filter(kind="evidence_certificate").count() == 1


def _lose_the_queue(filing, minutes: int = 10) -> ObtainedEvidence:
    """The fetch was due ``minutes`` ago and its task is gone (tasks table emptied)."""
    DBTaskResult.objects.all().delete()
    ObtainedEvidence.objects.filter(filing=filing).update(
        next_attempt_at=timezone.now() - dt.timedelta(minutes=minutes)
    )
    return ObtainedEvidence.objects.get(filing=filing)


def test_the_sweep_requeues_a_lost_fetch_once_audited_and_it_is_obtained(licence):
    filing = file_radio(licence.citizen)
    row = _lose_the_queue(filing)
    out = io.StringIO()
    call_command("sweep", "--no-documents", stdout=out)
    assert "evidence_requeued: 1" in out.getvalue()
    assert [t.args_kwargs["args"] for t in fetch_tasks()] == [[row.pk]]
    entry = AuditEntry.objects.get(action="filing.evidence_requeued")
    assert entry.object_id == filing.number and entry.data["requirement"] == "licencia_local"
    # A second sweep (the task still queued, or run at once again) re-queues nothing.
    assert "evidence_requeued" not in sweep.run().counts
    assert fetch_tasks().count() == 1

    run_tasks(fetch_evidence_task.module_path)
    row.refresh_from_db()
    assert row.status == "obtained" and row.attempts == 1
    assert ExchangeLog.objects.filter(direction="out").count() == 1


def test_not_requeued_before_its_time_or_while_a_task_is_queued(settings, licence):
    settings.TAMBO_EXCHANGE_REQUEUE_AFTER_SECONDS = 300
    filing = file_radio(licence.citizen)
    assert evidence.requeue_lost() == 0  # its task is queued
    _lose_the_queue(filing, minutes=2)
    assert evidence.requeue_lost() == 0  # only 2 minutes overdue
    _lose_the_queue(filing, minutes=10)
    fetch_evidence_task.enqueue(ObtainedEvidence.objects.get(filing=filing).pk)
    assert evidence.requeue_lost() == 0  # queued again by someone else meanwhile
    assert not AuditEntry.objects.filter(action="filing.evidence_requeued").exists()


def test_a_killed_worker_s_attempt_is_requeued_once_its_lease_is_over(licence):
    filing = file_radio(licence.citizen)
    row = _lose_the_queue(filing)
    long_ago = timezone.now() - dt.timedelta(minutes=10)
    # The worker claimed the attempt and died: its task row stays RUNNING.
    ObtainedEvidence.objects.filter(pk=row.pk).update(claimed_at=long_ago, request_id="lost-1")
    DBTaskResult.objects.create(
        task_path=fetch_evidence_task.module_path,
        args_kwargs={"args": [row.pk], "kwargs": {}},
        status="RUNNING",
        started_at=long_ago,
        run_after=long_ago,
        backend_name="default",
    )
    assert evidence.requeue_lost() == 1
    entry = AuditEntry.objects.get(action="filing.evidence_requeued")
    assert entry.data["abandoned_request_id"] == "lost-1"
    assert evidence.requeue_lost() == 0


def test_an_attempt_in_flight_is_neither_requeued_nor_fetched_twice(licence):
    filing = file_radio(licence.citizen)
    row = _lose_the_queue(filing)
    ObtainedEvidence.objects.filter(pk=row.pk).update(
        claimed_at=timezone.now(), request_id="in-flight"
    )
    assert evidence.requeue_lost() == 0
    assert evidence.fetch(row.pk) == "pending"  # a duplicate task: the attempt is claimed
    assert not ExchangeLog.objects.exists()


def test_two_tasks_for_one_row_fetch_it_once(licence):
    filing = file_radio(licence.citizen)
    row = ObtainedEvidence.objects.get(filing=filing)
    fetch_evidence_task.enqueue(row.pk)  # e.g. re-queued while the first was only slow
    assert fetch_tasks().count() == 2
    run_tasks(fetch_evidence_task.module_path)
    row.refresh_from_db()
    assert row.status == "obtained" and row.attempts == 1
    assert ExchangeLog.objects.filter(direction="out").count() == 1
    assert ExchangeLog.objects.get(direction="out").request_id == row.request_id
