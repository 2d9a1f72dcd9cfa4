"""(c) The task worker running the sweep is killed (SIGKILL) in the middle of it.

The sweep runs as a queued task in ``tambo db_worker``, in batches of 100 expedientes
(``TAMBO_SWEEP_BATCH``), with a short task lease (tambo.core.tasklease). While it runs past
twice the lease its worker keeps renewing it, so nothing takes it away; then the worker is
killed mid-sweep. The next worker, started after the lease ran out, puts the killed task back
to READY (one ``task.reclaimed`` audit entry) and runs it to the end: every notice, official
alert and audit entry exists exactly once — none lost with the killed batch, none repeated
for the batches that had committed — the chain of scheduled sweeps goes on, and another run
changes nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from .harness import VENV_BIN, tambo

pytestmark = pytest.mark.faults

# Each batch also queues one task for its notices' e-mail/SMS copies (in the batch's own
# transaction); the worker sends them in chunks after the sweep. The data is kept small
# enough for a run of a few minutes.
ROWS = 30_000

GENERATE = f"""
import json
from tambo.core import clock
from tambo.demo.generate import generate_filings, make_citizens
today = clock.now().astimezone(clock.LIMA).date()
# MTC's procedures all end in negative silence: notices and alerts, no documents to sign.
made = generate_filings({ROWS}, today, make_citizens(50, prefix="sweep"), agencies=["MTC"])
print(json.dumps({{"today": today.isoformat(), "made": made}}))
"""
ENQUEUE = "from tambo.cases.tasks import sweep_task; print(sweep_task.enqueue().id)"
LEASE_SECONDS = 0.6  # renewed every 0.2 s by the live worker


def test_a_worker_killed_mid_sweep_leaves_work_the_next_run_completes_once(site, tmp_path):
    # Generous connection wait: on a loaded machine a worker must not die before it starts.
    env = site.env(
        # Small batches: the sweep (much faster since the copies left it) must still run for
        # seconds, so that the kill lands in its middle.
        TAMBO_SWEEP_BATCH="20",
        TAMBO_LOG_LEVEL="INFO",
        TAMBO_DB_CONNECT_TIMEOUT="15",
        # A short task lease: the live worker must keep renewing it through the long sweep,
        # and the killed worker's task must be taken back soon after the kill.
        TAMBO_TASK_LEASE_SECONDS=str(LEASE_SECONDS),
    )
    # Loading data is maintenance: no statement timeout for it (as docs/operations.md says).
    loader = {**env, "TAMBO_DB_STATEMENT_TIMEOUT_MS": "0"}
    facts = json.loads(tambo(loader, "shell", "-c", GENERATE).strip().splitlines()[-1])
    assert facts["made"] == ROWS
    today = facts["today"]
    sql = site.cluster.sql
    db = site.database

    def count(query: str) -> int:
        return int(sql(query, db))

    # What the sweep must do, counted from the data (MTC only: no other filings exist).
    running = "is_open AND term_running AND channel = 'generated'"
    expected = {
        "negative_silence": count(f"SELECT count(*) FROM cases_filing WHERE {running} AND silence_on <= '{today}'"),
        "overdue": count(f"SELECT count(*) FROM cases_filing WHERE {running} AND due_on < '{today}'"),
        "due_soon": count(
            f"SELECT count(*) FROM cases_filing WHERE {running} AND due_soon_on <= '{today}' AND due_on >= '{today}'"
        ),
    }  # fmt: skip
    assert all(n > 300 for n in expected.values()), expected

    def done() -> dict[str, int]:
        return {
            "notices": count("SELECT count(*) FROM inbox_notice WHERE kind = 'negative_silence'"),
            "notice_cases": count(
                "SELECT count(DISTINCT filing_id) FROM inbox_notice WHERE kind = 'negative_silence'"
            ),
            "stamped": count("SELECT count(*) FROM cases_filing WHERE negative_silence_noticed_at IS NOT NULL"),
            "overdue": count("SELECT count(*) FROM inbox_officialalert WHERE kind = 'overdue'"),
            "due_soon": count("SELECT count(*) FROM inbox_officialalert WHERE kind = 'due_soon'"),
            "audit_silence": count("SELECT count(*) FROM core_auditentry WHERE action = 'filing.negative_silence'"),
            "audit_overdue": count("SELECT count(*) FROM core_auditentry WHERE action = 'filing.overdue'"),
            "audit_due_soon": count("SELECT count(*) FROM core_auditentry WHERE action = 'filing.due_soon'"),
        }  # fmt: skip

    first_task = tambo(env, "shell", "-c", ENQUEUE).strip().splitlines()[-1]
    task_status = f"SELECT status FROM django_tasks_database_dbtaskresult WHERE id = '{first_task}'"
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [str(VENV_BIN / "tambo"), "db_worker", "--batch", "--no-startup-delay", "--no-reload"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        claimed_at = None
        while time.monotonic() < deadline and worker.poll() is None:
            if claimed_at is None and sql(task_status, db) == "RUNNING":
                claimed_at = time.monotonic()
            # Killed mid-sweep, once it has run for more than twice the lease: a live worker
            # keeps renewing its task, so nothing may take it away meanwhile.
            if (
                claimed_at
                and time.monotonic() - claimed_at > 2.5 * LEASE_SECONDS
                and count("SELECT count(*) FROM inbox_notice") > 0
            ):
                break
            time.sleep(0.1)
        assert worker.poll() is None, "the worker finished (or died) before it could be killed"
        assert sql(task_status, db) == "RUNNING"
        assert count("SELECT count(*) FROM core_auditentry WHERE object_type = 'task'") == 0, (
            "the lease of a live worker's task expired"
        )
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    partial = done()
    print(f"\nat the kill: {partial}; expected {expected}")
    assert 0 < partial["notices"] < expected["negative_silence"], "the kill did not land mid-sweep"
    # What had committed is whole: each stamped case has its notice and its audit entry.
    assert partial["notices"] == partial["stamped"] == partial["audit_silence"], partial

    # The next worker, started once the lease has run out, takes the killed task back (READY
    # again, audited once) and runs it to the end.
    time.sleep(LEASE_SECONDS + 0.5)
    started = time.monotonic()
    subprocess.run(
        [str(VENV_BIN / "tambo"), "db_worker", "--batch", "--no-startup-delay", "--no-reload"],
        env=env, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    print(f"second run: {time.monotonic() - started:.1f} s")
    row = sql(
        "SELECT status || ' ' || jsonb_array_length(worker_ids::jsonb) "
        f"FROM django_tasks_database_dbtaskresult WHERE id = '{first_task}'",
        db,
    )
    assert row == "SUCCESSFUL 2", row  # the killed task itself, finished by a second worker
    reclaims = sql(
        "SELECT string_agg(action, ',') FROM core_auditentry "
        f"WHERE object_type = 'task' AND object_id = '{first_task}'",
        db,
    )
    assert reclaims == "task.reclaimed", reclaims
    # The run it finished scheduled the next sweep, so the chain of sweeps goes on.
    assert (
        count(
            "SELECT count(*) FROM django_tasks_database_dbtaskresult "
            "WHERE status = 'READY' AND task_path = 'tambo.cases.tasks.sweep_task'"
        )
        == 1
    )
    after = done()
    assert after == {
        "notices": expected["negative_silence"],
        "notice_cases": expected["negative_silence"],
        "stamped": expected["negative_silence"],
        "overdue": expected["overdue"],
        "due_soon": expected["due_soon"],
        "audit_silence": expected["negative_silence"],
        "audit_overdue": expected["overdue"],
        "audit_due_soon": expected["due_soon"],
    }, (after, expected)
    # Running again changes nothing and sends nothing.
    output = tambo(env, "sweep", "--no-documents")
    assert "nothing to do" in output, output
    assert done() == after
    tambo(env, "audit", "verify")
