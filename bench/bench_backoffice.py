"""Back-office benchmark on PostgreSQL: the work queue and the sweep over 1,000,000 expedientes.

Run: ``.venv/bin/python bench/bench_backoffice.py [--rows N]``. It creates the database
``tambo_bench_bo``, loads the demo catalogue, generates N open expedientes with one
set-based INSERT (``tambo.demo.generate``, shared with ``tambo demo --scale``: realistic
spread of states, units, receipt dates and deadlines), then:

- work queue: GET /api/v1/office/queues/{unit}/{role} through the whole Django stack
  (in-process client, no network), first page and the pages after it by cursor, for the
  front desk (agency-wide), an evaluator unit and a supervisor, with and without filters;
- sweep: ``sweep.run()`` on the day the data ends (a backlog of warnings to catch up),
  again the same day (idempotent: nothing to do), and on the next day (a normal daily run).

Targets (issue 3): queue pages p95 < 50 ms; sweep over 1,000,000 open expedientes < 30 s.
Prints a table and writes bench/out/backoffice.md (bench/run.py folds it into RESULTS.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

BENCH_DIR = Path(__file__).resolve().parent
PROJECT = BENCH_DIR.parent
DB = "tambo_bench_bo"
URL = f"postgres://postgres@127.0.0.1:5432/{DB}"
TODAY = dt.date(2026, 6, 1)


def env() -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("TAMBO_")}
    values.update(
        DATABASE_URL=URL,
        DJANGO_SETTINGS_MODULE="tambo.settings.dev",
        TAMBO_DEBUG="0",
        TAMBO_LOG_LEVEL="WARNING",
        TAMBO_AUDIT_SEAL_INTERVAL="3600",
        TAMBO_ALLOWED_HOSTS="testserver,127.0.0.1",
    )
    return values


def admin(statement: sql.Composable) -> None:
    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(statement)


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def setup(rows: int) -> None:
    admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB)))
    admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB)))
    tambo = str(PROJECT / ".venv" / "bin" / "tambo")
    subprocess.run([tambo, "migrate", "--noinput", "-v", "0"], env=env(), check=True)
    subprocess.run(
        [tambo, "catalog", "load", str(PROJECT / "catalog")],
        env=env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=60, help="requests per queue scenario")
    args = parser.parse_args()
    os.environ.update(env())
    started = time.monotonic()
    setup(args.rows)
    sys.path.insert(0, str(PROJECT))
    import django

    # Loading a million generated expedientes is maintenance: no statement timeout for it
    # (docs/operations.md); the queue queries measured below are far below any timeout.
    os.environ["TAMBO_DB_STATEMENT_TIMEOUT_MS"] = "0"
    django.setup()
    from django.db import connection
    from django.test import Client

    from tambo.cases import sweep
    from tambo.catalog.models import OrgUnit
    from tambo.core import clock
    from tambo.demo.generate import generate_filings
    from tambo.identity.models import Appointment, User

    # Bench accounts log in with force_login: they have no usable password.
    citizen = User.objects.create_user("bench-citizen")
    desk = User.objects.create_user("bench-desk")
    evaluator = User.objects.create_user("bench-evaluator")
    supervisor = User.objects.create_user("bench-supervisor")
    mp = OrgUnit.objects.get(agency__code="MDSI", code="MP")
    busiest = OrgUnit.objects.filter(agency__code="MDSI").exclude(code="MP").order_by("code")
    Appointment.objects.create(user=desk, unit=mp, role="front_desk")
    for unit in busiest:
        Appointment.objects.create(user=evaluator, unit=unit, role="evaluator")
        Appointment.objects.create(user=supervisor, unit=unit, role="supervisor")
    t0 = time.monotonic()
    generate_filings(args.rows, TODAY, [citizen.pk], agencies=["MDSI"])
    generate_s = time.monotonic() - t0
    unit_counts = {u.code: u.filings.count() for u in busiest}
    unit = max(busiest, key=lambda u: unit_counts[u.code])

    results: list[tuple[str, str, str]] = []

    def verified_client(user: User) -> Client:
        """An official's session that passed the second factor, as django_otp.login leaves it
        (otherwise every request is the middleware's 401, not the queue)."""
        from django_otp import DEVICE_ID_SESSION_KEY
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device, _ = TOTPDevice.objects.get_or_create(
            user=user, name="bench", defaults={"confirmed": True}
        )
        client = Client()
        client.force_login(user)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        return client

    def queue_scenario(label: str, user: User, unit_id: int, role: str, extra: str = "") -> None:
        client = verified_client(user)
        base = f"/api/v1/office/queues/{unit_id}/{role}"
        firsts, laters = [], []
        with clock.frozen(dt.datetime.combine(TODAY, dt.time(11), tzinfo=clock.LIMA)):
            for _ in range(5):  # warm the caches the first request fills
                client.get(base + extra)
            cursor = None
            for i in range(args.samples):
                query = extra + (
                    ("&" if extra else "?") + f"after={cursor}" if cursor and i % 10 else ""
                )
                t = time.monotonic()
                response = client.get(base + query)
                elapsed = (time.monotonic() - t) * 1000
                assert response.status_code == 200, response.content[:300]
                body = response.json()
                (laters if cursor and i % 10 else firsts).append(elapsed)
                cursor = body["next"]
        results.append(
            (
                f"Queue {label}: first page p50 / p95",
                f"{p(firsts, 50):.1f} / {p(firsts, 95):.1f} ms",
                "p95 < 50 ms",
            )
        )
        if not laters:
            raise SystemExit(f"queue {label}: fewer than two pages of data")
        results.append(
            (
                f"Queue {label}: later pages p50 / p95",
                f"{p(laters, 50):.1f} / {p(laters, 95):.1f} ms",
                "p95 < 50 ms",
            )
        )

    queue_scenario("front desk (whole agency)", desk, mp.pk, "front_desk")
    queue_scenario(f"evaluator ({unit.code})", evaluator, unit.pk, "evaluator")
    queue_scenario(
        f"supervisor ({unit.code}), overdue only",
        supervisor,
        unit.pk,
        "supervisor",
        "?light=overdue",
    )
    queue_scenario(
        f"evaluator ({unit.code}), one procedure",
        evaluator,
        unit.pk,
        "evaluator",
        "?procedure=" + unit.procedures.order_by("code").first().code,
    )

    sweeps = []
    for label, day in [
        ("first run (catch-up of warnings)", TODAY),
        ("same day again (idempotent)", TODAY),
        ("next day (daily run)", TODAY + dt.timedelta(days=1)),
    ]:
        with clock.frozen(dt.datetime.combine(day, dt.time(2), tzinfo=clock.LIMA)):
            t = time.monotonic()
            if os.environ.get("BENCH_PROFILE") and not sweeps:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                report = profiler.runcall(sweep.run)
                pstats.Stats(profiler).sort_stats("tottime").print_stats(18)
            else:
                report = sweep.run()
            elapsed = time.monotonic() - t
        sweeps.append((label, elapsed, report.counts))
        changed = ", ".join(f"{k} {v:,}" for k, v in sorted(report.counts.items())) or "nothing"
        results.append(
            (
                f"Sweep over {args.rows:,} open expedientes, {label}",
                f"{elapsed:.1f} s ({changed})",
                "< 30 s",
            )
        )
    from tambo.cases.models import Filing

    open_count = Filing.objects.filter(is_open=True).count()
    lines = [
        "## Back office (bench/bench_backoffice.py, PostgreSQL)",
        "",
        f"- {args.rows:,} expedientes generated in {generate_s:.1f} s; {open_count:,} open after the sweeps; "
        f"queue requests through the whole Django stack in-process ({args.samples} per scenario).",
        f"- Busiest evaluator unit: {unit.code} with {unit_counts[unit.code]:,} expedientes.",
        "",
        "| Figure | Value | Target |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in results],
        "",
    ]
    out = BENCH_DIR / "out"
    out.mkdir(exist_ok=True)
    (out / "backoffice.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    print(f"total {time.monotonic() - started:.0f} s")
    connection.close()
    admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
