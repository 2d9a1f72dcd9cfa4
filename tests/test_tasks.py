"""The sweep runs as a scheduled task through the Django Tasks API (database backend)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from tambo.cases.tasks import schedule_next_sweep, sweep_task
from tambo.core import clock

from .conftest import procedure
from .test_backoffice import at, file_case

pytestmark = pytest.mark.django_db(transaction=True)


def test_scheduling_queues_one_sweep_and_the_worker_runs_it_and_schedules_the_next(
    citizen, catalog
):
    filing = file_case(citizen, procedure("ACCESO-INFORMACION", "MDSI"), "2026-03-02")
    moment = at(filing.silence_on.isoformat())
    with clock.frozen(moment):
        schedule_next_sweep()
        schedule_next_sweep()
        ready = DBTaskResult.objects.filter(task_path=sweep_task.module_path, status="READY")
        assert ready.count() == 1
        # The frozen clock is months before the real one, so the worker finds it due.
        call_command(
            "db_worker", "--batch", "--no-startup-delay", "--max-tasks", "1", stdout=io.StringIO()
        )
    done = DBTaskResult.objects.get(status="SUCCESSFUL")
    assert done.return_value["negative_silence"] == 1
    filing.refresh_from_db()
    assert filing.negative_silence_noticed_at is not None
    upcoming = DBTaskResult.objects.filter(task_path=sweep_task.module_path, status="READY").get()
    assert upcoming.run_after == moment + dt.timedelta(minutes=60)


def test_the_sweep_command_reports_what_it_did_and_is_idempotent(citizen, catalog):
    filing = file_case(citizen, procedure("ACCESO-INFORMACION", "MDSI"), "2026-03-02")
    out = io.StringIO()
    call_command("sweep", "--date", filing.silence_on.isoformat(), stdout=out)
    assert "negative_silence: 1" in out.getvalue()
    out = io.StringIO()
    call_command("sweep", "--date", filing.silence_on.isoformat(), stdout=out)
    assert "nothing to do" in out.getvalue()
