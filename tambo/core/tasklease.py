"""Leases for background tasks: a task whose worker died is run again, not left RUNNING forever.

django-tasks-db marks a task RUNNING when a worker claims it and SUCCESSFUL or FAILED when it
ends. A worker killed in between (kill -9, out of memory, the machine lost) leaves the row
RUNNING for ever: the work is never finished and a self-rescheduling task (the sweep, the audit
checkpoint) stops rescheduling itself, silently.

So each ``tambo db_worker`` runs a small lease keeper beside its tasks. Every
``renew_interval()`` seconds it

1. renews the lease of the task its own worker is running (``TaskLease.renewed_at``), and
2. reclaims every RUNNING task whose lease — its start, or its last renewal — is older than
   ``TAMBO_TASK_LEASE_SECONDS``: the task goes back to READY to run again, with an audit
   entry ``task.reclaimed``. After ``TAMBO_TASK_MAX_RECLAIMS`` reclaims it is marked FAILED
   instead (``task.abandoned``): a task that kills its worker each time must not loop.

A live worker renews well within the lease, so only a dead worker's task expires, whatever its
run time. Each expired task is reclaimed once: the row is locked (``skip_locked``: another
keeper passes it by) and checked again in the transaction that reclaims it and writes its audit
entry. A worker that was only cut off from the database for longer than the lease may finish
its run after the task was reclaimed, so the task runs twice: every task of Tambo is written to
be idempotent (the sweep stamps each case it handles, evidence is fetched only while pending,
a checkpoint is signed only if the tree grew, documents are issued only once).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction

from . import audit, clock

log = logging.getLogger(__name__)

RUNNING, READY, FAILED = "RUNNING", "READY", "FAILED"


def lease_seconds() -> float:
    return float(settings.TAMBO_TASK_LEASE_SECONDS)


def renew_interval() -> float:
    """Renew three times per lease (at most every minute), so one missed renewal is harmless."""
    return max(0.1, min(lease_seconds() / 3, 60.0))


def renew(worker_id: str) -> int:
    """Renew the lease of each task this worker is running; returns how many."""
    from django_tasks_db.models import DBTaskResult

    from .models import TaskLease

    mine = [
        pk
        for pk, workers in DBTaskResult.objects.filter(status=RUNNING).values_list(
            "pk", "worker_ids"
        )
        if workers and workers[-1] == worker_id
    ]
    now = clock.now()
    for pk in mine:
        TaskLease.objects.update_or_create(task_id=pk, defaults={"renewed_at": now})
    return len(mine)


@dataclass
class Reclaimed:
    task_id: str
    task_path: str
    outcome: str  # "reclaimed" (READY again) or "abandoned" (FAILED)


def reclaim_expired() -> list[Reclaimed]:
    """Put back to READY (or fail) each RUNNING task whose lease expired; audited, once each."""
    from django_tasks_db.models import DBTaskResult

    from .models import TaskLease

    now = clock.now()
    expiry = now - dt.timedelta(seconds=lease_seconds())
    renewed = dict(
        TaskLease.objects.filter(task__status=RUNNING).values_list("task_id", "renewed_at")
    )
    candidates = [
        pk
        for pk, started_at in DBTaskResult.objects.filter(status=RUNNING).values_list(
            "pk", "started_at"
        )
        if max(filter(None, (started_at, renewed.get(pk))), default=now) < expiry
    ]
    done = []
    for pk in candidates:
        with transaction.atomic():
            task = (
                DBTaskResult.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=RUNNING)
                .first()
            )
            if task is None:
                continue  # finished meanwhile, or another keeper holds it
            lease, _created = TaskLease.objects.select_for_update().get_or_create(task_id=pk)
            last_seen = max(filter(None, (task.started_at, lease.renewed_at)), default=now)
            if last_seen >= expiry:
                continue  # renewed since we looked
            done.append(_reclaim(task, lease, last_seen, now))
    return done


def _reclaim(task, lease, last_seen: dt.datetime, now: dt.datetime) -> Reclaimed:
    lease.reclaims += 1
    lease.renewed_at = None
    lease.save(update_fields=["reclaims", "renewed_at"])
    worker = task.worker_ids[-1] if task.worker_ids else ""
    data = {
        "task_path": task.task_path,
        "worker_id": worker,
        "started_at": task.started_at.isoformat() if task.started_at else None,
        "last_seen": last_seen.isoformat(),
        "lease_seconds": lease_seconds(),
        "reclaims": lease.reclaims,
    }
    if lease.reclaims > settings.TAMBO_TASK_MAX_RECLAIMS:
        task.status = FAILED
        task.finished_at = now
        task.exception_class_path = "tambo.core.tasklease.LeaseExpired"
        task.traceback = (
            f"Its worker stopped renewing the lease {lease.reclaims} times "
            f"(last worker {worker}); not run again."
        )
        task.save(update_fields=["status", "finished_at", "exception_class_path", "traceback"])
        audit.record("task.abandoned", "task", str(task.pk), data=data)
        log.error("task %s %s abandoned after %s reclaims", task.pk, task.task_path, lease.reclaims)
        return Reclaimed(str(task.pk), task.task_path, "abandoned")
    task.status = READY
    task.run_after = now
    task.save(update_fields=["status", "run_after"])
    audit.record("task.reclaimed", "task", str(task.pk), data=data)
    log.warning("task %s %s reclaimed from worker %s", task.pk, task.task_path, worker)
    return Reclaimed(str(task.pk), task.task_path, "reclaimed")


class LeaseKeeper:
    """The thread beside a worker's tasks: renew its own lease, reclaim dead workers' tasks."""

    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="task-lease", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=renew_interval() + 10)

    def tick(self) -> None:
        try:
            renew(self.worker_id)
            reclaim_expired()
        except DatabaseError as exc:  # the database is away: try again next time
            log.warning("task leases not renewed: %s", exc.__class__.__name__)

    def _run(self) -> None:
        try:
            while not self._stop.wait(renew_interval()):
                close_old_connections()
                self.tick()
        finally:
            connection.close()
