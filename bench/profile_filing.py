"""Where does a filing (and a catalogue search) spend its time? Single process, no load.

    .venv/bin/python bench/profile_filing.py [--filings 300] [--procedures 0]

Creates the tambo_bench database (dropping a previous one), migrates, loads the
catalogue (plus N generated procedures with --procedures), then, inside one Django
process and through the whole Django stack (``django.test.Client``: middleware, ninja,
auth, view, after-commit hooks):

1. lists the SQL statements of one filing (count and time per statement);
2. times the steps of a filing separately (spec validation, answers validation, audit
   sealing, ...);
3. profiles N filings with cProfile and prints the top functions;
4. does the same for one search when --procedures is given.

The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import catalog_gen
import common
from common import PROJECT_DIR, drop_database, recreate_database, server_env


def timed(fn: Any, n: int) -> float:
    """Median milliseconds of ``fn()`` over ``n`` calls."""
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--filings", type=int, default=300)
    parser.add_argument("--procedures", type=int, default=0)
    parser.add_argument(
        "--no-cprofile",
        action="store_true",
        help="skip the cProfile pass (e.g. under a sampling profiler: py-spy record -f raw)",
    )
    parser.add_argument(
        "--profile-load", type=int, default=0, help="cProfile a catalogue load of N files"
    )
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="tambo-profile-"))
    common.RUN_VAR_DIR = workdir / "var"
    common.RUN_VAR_DIR.mkdir()
    os.environ.update(server_env())
    os.environ["TAMBO_ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    recreate_database()
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("catalog", "load", str(PROJECT_DIR / "catalog"), verbosity=0)
        if args.profile_load:
            catalog_gen.generate(PROJECT_DIR / "catalog", workdir / "few", args.profile_load)
            profiler = cProfile.Profile()
            t0 = time.perf_counter()
            profiler.enable()
            call_command("catalog", "load", str(workdir / "few"), verbosity=0)
            profiler.disable()
            took = time.perf_counter() - t0
            print(f"\n## catalogue load of {args.profile_load} files under cProfile: {took:.1f} s")
            report(profiler, 30)
        if args.procedures:
            catalog_gen.generate(PROJECT_DIR / "catalog", workdir / "cat", args.procedures)
            t0 = time.perf_counter()
            call_command("catalog", "load", str(workdir / "cat"), verbosity=0)
            print(f"\n## catalogue load of {args.procedures}: {time.perf_counter() - t0:.1f} s")
        profile_filing(args.filings, cprofile=not args.no_cprofile)
        if args.procedures:
            profile_search()
    finally:
        from django.db import connections

        connections.close_all()
        drop_database()
        shutil.rmtree(workdir, ignore_errors=True)


def report(profiler: cProfile.Profile, lines: int, sort: str = "cumulative") -> None:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(sort).print_stats(lines)
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:12000])


def profile_filing(n: int, cprofile: bool = True) -> None:
    import random

    from django.db import connection, transaction
    from django.test import Client

    from tambo.catalog.answers import validate_answers
    from tambo.catalog.models import ProcedureVersion
    from tambo.catalog.queries import agency_calendar, get_procedure
    from tambo.catalog.schema import ProcedureFile
    from tambo.core import audit, clock
    from tambo.core.models import BenchInsert
    from tambo.demo.samples import sample_answers
    from tambo.identity.models import ApiToken, User

    user = User.objects.create(username="profiler", document_type="dni", document_number="40999999")
    _, raw = ApiToken.issue(user, "profile")
    procedure = get_procedure("MDSI", "ACCESO-INFORMACION")
    version = procedure.current_version
    answers = sample_answers(version.file, random.Random(1))
    body = {"agency": "MDSI", "procedure": "ACCESO-INFORMACION", "answers": answers}
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    seq = iter(range(10**9))

    def file_one() -> None:
        response = client.post(
            "/api/v1/filings",
            body,
            content_type="application/json",
            headers={"Idempotency-Key": f"k{next(seq)}"},
        )
        assert response.status_code == 201, response.content

    for _ in range(20):  # warm-up
        file_one()

    statements: list[tuple[float, str]] = []

    def timer(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append(((time.perf_counter() - t0) * 1000, sql))

    # Transaction control (BEGIN/COMMIT) does not go through execute(): time it too.
    original_commit = connection.commit
    original_set_autocommit = connection._set_autocommit

    def timed_commit() -> None:
        t0 = time.perf_counter()
        original_commit()
        statements.append(((time.perf_counter() - t0) * 1000, "COMMIT (connection.commit)"))

    def timed_set_autocommit(value: bool) -> None:
        t0 = time.perf_counter()
        original_set_autocommit(value)
        label = "COMMIT (leave atomic)" if value else "BEGIN (enter atomic)"
        statements.append(((time.perf_counter() - t0) * 1000, label))

    runs = []
    for _ in range(30):
        statements.clear()
        connection.commit, connection._set_autocommit = timed_commit, timed_set_autocommit
        t0 = time.perf_counter()
        with connection.execute_wrapper(timer):
            file_one()
        wall_ms = (time.perf_counter() - t0) * 1000
        connection.commit, connection._set_autocommit = original_commit, original_set_autocommit
        runs.append((wall_ms, list(statements)))
    walls = sorted(r[0] for r in runs)
    wall_ms = statistics.median(walls)
    shapes = {tuple(text for _, text in r[1]) for r in runs}
    if len(shapes) == 1:  # same statements every time: median per statement
        texts = next(iter(shapes))
        median_run = [
            (statistics.median(r[1][i][0] for r in runs), text) for i, text in enumerate(texts)
        ]
    else:
        median_run = sorted(runs, key=lambda r: r[0])[len(runs) // 2][1]
    sql_ms = sum(t for t, _ in median_run)
    n_sql = sum(1 for _, s in median_run if not s.startswith(("BEGIN (", "COMMIT (")))
    print(
        f"\n## SQL of one filing (medians of 30 filings): {n_sql} statements via execute() "
        f"+ {len(median_run) - n_sql} transaction switches; wall {wall_ms:.2f} ms, "
        f"of which waiting on PostgreSQL {sql_ms:.2f} ms, Python {wall_ms - sql_ms:.2f} ms"
    )
    kinds: Counter = Counter()
    for t, text in median_run:
        kinds[text.split()[0]] += 1
        print(f"  {t:6.2f} ms  {text[:140]}")
    print(f"  by kind: {dict(kinds)}")

    wall = timed(file_one, 100)
    print(f"\n## one filing through the Django stack, sequential: median {wall:.2f} ms")

    spec = version.spec
    file_ = version.file
    fresh = ProcedureVersion.objects.get(pk=version.pk)
    steps = {
        "ProcedureFile.model_validate(spec) (version.file, once per request)": lambda: (
            ProcedureFile.model_validate(spec)
        ),
        "validate_answers (runs twice per filing)": lambda: validate_answers(file_, answers, set()),
        "agency_calendar (closures query)": lambda: agency_calendar(procedure.agency),
        "get_procedure (query)": lambda: get_procedure("MDSI", "ACCESO-INFORMACION"),
        "ProcedureVersion fetch incl. spec JSON": lambda: ProcedureVersion.objects.get(pk=fresh.pk),
        "BenchInsert.objects.create (the ceiling's one INSERT, autocommit)": lambda: (
            BenchInsert.objects.create(at=clock.now(), payload={"x": 1})
        ),
        "token lookup (auth query)": lambda: (
            ApiToken.objects.select_related("user").filter(token_hash=ApiToken.hash(raw)).first()
        ),
    }
    print("\n## steps, median of 200 calls each")
    for label, fn in steps.items():
        print(f"  {timed(fn, 200):7.3f} ms  {label}")

    def one_record_and_seal() -> None:
        with transaction.atomic():
            audit.record("bench.probe", "bench", "1", data={"x": 1})

    print(
        f"  {timed(one_record_and_seal, 100):7.3f} ms  audit.record + commit + seal_pending (one entry)"
    )

    def seal_contended() -> None:
        audit.seal_pending(wait=False, max_batches=4)

    print(
        f"  {timed(seal_contended, 100):7.3f} ms  seal_pending with nothing pending (lock head, 1 select)"
    )

    cpu0 = time.process_time()
    for _ in range(n):
        file_one()
    cpu_ms = (time.process_time() - cpu0) / n * 1000
    print(f"\n## Django process CPU per filing, no profiler: {cpu_ms:.2f} ms")
    ceiling = Client()
    cpu0 = time.process_time()
    for i in range(n):
        response = ceiling.post("/bench/insert", {"i": i}, content_type="application/json")
        assert response.status_code == 201, response.content
    ceiling_ms = (time.process_time() - cpu0) / n * 1000
    print(f"## Django process CPU per ceiling request (/bench/insert): {ceiling_ms:.2f} ms")
    if not cprofile:
        return

    # Timed by process CPU, not wall clock: waiting on PostgreSQL (or on other busy
    # processes of a shared machine) does not count, so the list shows where CPU goes.
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(n):
        file_one()
    profiler.disable()
    if os.environ.get("PROFILE_OUT"):
        profiler.dump_stats(os.environ["PROFILE_OUT"])
    print(f"\n## cProfile (process CPU time) of {n} filings")
    report(profiler, 60)
    report(profiler, 40, "tottime")


def capture(fn: Any) -> tuple[Any, list[tuple[float, str, Any]]]:
    """Run ``fn`` and return its result and the statements it ran (ms, sql, params)."""
    from django.db import connection

    statements: list[tuple[float, str, Any]] = []

    def timer(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append(((time.perf_counter() - t0) * 1000, sql, params))

    with connection.execute_wrapper(timer):
        result = fn()
    return result, statements


def plan_experiment() -> None:
    """The search plan as loaded, after VACUUM ANALYZE, and with sequential scans off."""
    from django.db import connection

    from tambo.catalog.queries import search_procedures

    def show(label: str) -> None:
        print(f"\n## plans {label}")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT * FROM pgstatginindex('catalog_procedure_search_trgm')"
                if _has_pgstattuple(cursor)
                else "SELECT 'pgstattuple not installed'"
            )
            print(
                f"    GIN index stats (version, pending pages, pending tuples): {cursor.fetchone()}"
            )
        for q in ["licencia", "xilófono"]:
            _, statements = capture(lambda q=q: search_procedures(q))
            _, sql, params = statements[0]
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE) " + sql, params)
                lines = [r[0] for r in cursor.fetchall()]
            keep = [
                line.strip()
                for line in lines
                if "Scan" in line or "Execution Time" in line or "Recheck" in line
            ]
            took = timed(lambda q=q: search_procedures(q), 30)
            print(f"  {q!r}: search_procedures median {took:.2f} ms")
            print("\n".join("    " + line[:160] for line in keep))

    show("as loaded")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE catalog_procedure")
    show("after VACUUM ANALYZE catalog_procedure")
    with connection.cursor() as cursor:
        cursor.execute("SET random_page_cost = 1.1")
    show("after VACUUM ANALYZE, random_page_cost = 1.1 (SSD setting)")
    with connection.cursor() as cursor:
        cursor.execute("RESET random_page_cost")
        cursor.execute("SET enable_seqscan = off")
    show("after VACUUM ANALYZE, enable_seqscan = off")
    with connection.cursor() as cursor:
        cursor.execute("RESET enable_seqscan")


def _has_pgstattuple(cursor: Any) -> bool:
    cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pgstattuple'")
    if cursor.fetchone() is None:
        return False
    cursor.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
    return True


def profile_search() -> None:
    from django.db import connection
    from django.test import Client

    from tambo.catalog.queries import search_procedures

    client = Client()
    for q in ["licencia", "certificado domiciliario", "xilófono"]:
        for _ in range(5):
            search_procedures(q)
        sql_times = [capture(lambda q=q: search_procedures(q))[1] for _ in range(30)]
        found, statements = capture(lambda q=q: search_procedures(q))
        sql_ms = statistics.median(sum(t for t, _, _ in run) for run in sql_times)
        total = timed(lambda q=q: search_procedures(q), 50)
        http_ms = timed(lambda q=q: client.get("/api/v1/procedures", {"q": q}), 50)
        print(
            f"\n## search {q!r}: {len(found)} results, {len(statements)} queries; medians: "
            f"SQL round trip {sql_ms:.2f} ms, search_procedures {total:.2f} ms, "
            f"through the Django stack {http_ms:.2f} ms"
        )
        _, sql, params = statements[0]
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            print("\n".join("    " + r[0] for r in cursor.fetchall()))
            print(
                f"    SQL: {cursor.mogrify(sql, params)[:600] if hasattr(cursor, 'mogrify') else sql}"
            )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), avg(length(search_text))::int, "
            "pg_size_pretty(pg_relation_size('catalog_procedure')), "
            "pg_size_pretty(pg_total_relation_size('catalog_procedure')) FROM catalog_procedure"
        )
        print(
            "\n## catalog_procedure rows, avg search_text chars, heap size, total size:",
            cursor.fetchone(),
        )
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'catalog_procedure'"
        )
        for name, definition in cursor.fetchall():
            print(f"    {name}: {definition}")
    plan_experiment()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(100):
        client.get("/api/v1/procedures", {"q": "licencia"})
    profiler.disable()
    print("\n## cProfile of 100 searches for 'licencia' via the Django stack")
    report(profiler, 30, "tottime")


if __name__ == "__main__":
    main(sys.argv[1:])
