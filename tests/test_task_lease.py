"""Task leases: a task left RUNNING by a dead worker runs again, once, audited (core/tasklease)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from tambo.cases.tasks import sweep_task
from tambo.core import clock, tasklease
from tambo.core.models import AuditEntry, TaskLease

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def short_lease(settings):
    settings.TAMBO_TASK_LEASE_SECONDS = 60
    settings.TAMBO_TASK_MAX_RECLAIMS = 2


def running(worker: str = "dead-worker", started_ago: float = 600) -> DBTaskResult:
    """A sweep task claimed by ``worker`` ``started_ago`` seconds ago (and never finished)."""
    result = sweep_task.enqueue()
    task = DBTaskResult.objects.get(pk=result.id)
    task.claim(worker)
    DBTaskResult.objects.filter(pk=task.pk).update(
        started_at=clock.now() - dt.timedelta(seconds=started_ago)
    )
    return DBTaskResult.objects.get(pk=task.pk)


def audit_actions(task: DBTaskResult) -> list[str]:
    return list(
        AuditEntry.objects.filter(object_type="task", object_id=str(task.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_a_task_whose_lease_expired_goes_back_to_ready_once_with_an_audit_entry():
    task = running()
    done = tasklease.reclaim_expired()
    assert [(d.task_id, d.outcome) for d in done] == [(str(task.pk), "reclaimed")]
    task.refresh_from_db()
    assert task.status == "READY" and task.run_after <= clock.now()
    assert TaskLease.objects.get(task=task).reclaims == 1
    entry = AuditEntry.objects.get(object_type="task", object_id=str(task.pk))
    assert entry.action == "task.reclaimed"
    assert entry.data["worker_id"] == "dead-worker" and entry.data["reclaims"] == 1
    # A second pass (another keeper, or the next tick) finds nothing to do.
    assert tasklease.reclaim_expired() == []
    assert audit_actions(task) == ["task.reclaimed"]


def test_a_task_within_its_lease_or_renewed_by_its_live_worker_is_left_running():
    fresh = running("worker-a", started_ago=10)
    long_running = running("worker-b", started_ago=3600)
    assert tasklease.renew("worker-b") == 1  # its worker is alive: renews only its own task
    assert not TaskLease.objects.filter(task=fresh).exists()
    assert TaskLease.objects.get(task=long_running).renewed_at is not None
    assert tasklease.reclaim_expired() == []
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"RUNNING"}


def test_a_worker_that_stopped_renewing_loses_the_task_after_the_lease():
    task = running("worker-c", started_ago=3600)
    tasklease.renew("worker-c")
    TaskLease.objects.filter(task=task).update(renewed_at=clock.now() - dt.timedelta(seconds=61))
    assert [d.outcome for d in tasklease.reclaim_expired()] == ["reclaimed"]


def test_a_task_that_keeps_losing_its_worker_is_abandoned_not_looped():
    task = running()
    for expected in ["reclaimed", "reclaimed", "abandoned"]:
        assert [d.outcome for d in tasklease.reclaim_expired()] == [expected]
        task.refresh_from_db()
        if expected != "abandoned":
            assert task.status == "READY"
            task.claim("dead-again")
            DBTaskResult.objects.filter(pk=task.pk).update(
                started_at=clock.now() - dt.timedelta(seconds=600)
            )
    task.refresh_from_db()
    assert task.status == "FAILED"
    assert task.exception_class_path == "tambo.core.tasklease.LeaseExpired"
    assert audit_actions(task) == ["task.reclaimed", "task.reclaimed", "task.abandoned"]
    assert tasklease.reclaim_expired() == []


def test_a_starting_worker_reclaims_a_dead_workers_sweep_and_runs_it_to_the_end():
    task = running()
    call_command(
        "db_worker", "--batch", "--no-startup-delay", "--max-tasks", "1", stdout=io.StringIO()
    )
    task.refresh_from_db()
    assert task.status == "SUCCESSFUL", task.traceback
    assert task.worker_ids[0] == "dead-worker" and len(task.worker_ids) == 2
    assert audit_actions(task) == ["task.reclaimed"]
    # The run it finished scheduled the next sweep, as a run that was never killed does.
    assert DBTaskResult.objects.filter(task_path=sweep_task.module_path, status="READY").exists()
