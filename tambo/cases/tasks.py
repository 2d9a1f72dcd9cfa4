"""Background tasks (Django Tasks API, database backend): the scheduled sweep and document signing.

``tambo db_worker`` runs them. The sweep re-schedules itself, so one ``tambo sweep --schedule``
keeps it running every ``TAMBO_SWEEP_INTERVAL_MINUTES``.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django_tasks import task

from tambo.core import clock


@task()
def sweep_task() -> dict[str, int]:
    from . import sweep
    from .cleanup import remove_orphans

    report = sweep.run()
    sweep.issue_pending_documents()
    remove_orphans()
    schedule_next_sweep()
    return report.counts


@task()
def issue_pending_documents_task() -> int:
    from .sweep import issue_pending_documents

    return issue_pending_documents()


def schedule_next_sweep() -> None:
    """Queue the next sweep unless one is already waiting."""
    from django_tasks_db.models import DBTaskResult

    name = sweep_task.module_path
    if DBTaskResult.objects.filter(task_path=name, status="READY").exists():
        return
    interval = dt.timedelta(minutes=settings.TAMBO_SWEEP_INTERVAL_MINUTES)
    sweep_task.using(run_after=clock.now() + interval).enqueue()


@task()
def fetch_evidence_task(evidence_id: int) -> str:
    """Obtain one requirement from its provider; on no answer it re-queues itself later."""
    from .evidence import fetch

    return fetch(evidence_id)


@task()
def issue_evidence_certificate_task(filing_id: int) -> str:
    """Issue the constancia of the documents obtained for a filing, once none is pending."""
    from .evidence_certificate import issue_certificate

    document = issue_certificate(filing_id)
    return document.code if document is not None else ""
