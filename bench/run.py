"""Tambo benchmark: filing throughput against the one-INSERT ceiling, and catalogue search.

    .venv/bin/python bench/run.py            # full run (make bench), under 6 minutes
    .venv/bin/python bench/run.py --quick    # smoke run, under 90 seconds
    .venv/bin/python bench/run.py --only filing|search

It creates the PostgreSQL database ``tambo_bench`` (dropping any previous one), migrates
it, loads the catalogue, creates 32 citizens with API tokens, starts gunicorn on a free
loopback port with the production settings, measures, and writes bench/RESULTS.md.
gunicorn is stopped and the database dropped at the end, even after an error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import catalog_gen
import common
from common import (
    BENCH_DIR,
    GUNICORN,
    PROJECT_DIR,
    PYTHON,
    TAMBO,
    drop_database,
    free_port,
    machine_info,
    percentile,
    recreate_database,
    server_env,
)
from loadgen import LoadGenerator, Phase, PhaseResult
from whatif import PATCHES as WHATIF_PATCHES

CLIENTS = 32
# Sync workers: 2 per core. Each worker spends part of every request waiting on
# PostgreSQL (round trips, commit fsync), so one per core leaves the CPUs idle; more
# than two per core only adds context switches, memory and connections on a machine
# whose 2 cores are shared with PostgreSQL and the load generator.
DEFAULT_WORKERS = 4
CLIENT_MODES = [(1, 32), (2, 16), (4, 8)]  # processes x threads, all 32 clients
SEARCH_QUERIES = [
    "licencia",
    "LICENCIA",
    "autorizacion",
    "certificado domiciliario",
    "informacion publica",
    "Constancia de posesión",
    "xilófono cuántico",
]
TARGET_RATIO = 0.40
TARGET_FILING_P99_MS = 100.0
TARGET_SEARCH_P95_MS = 20.0


@dataclass
class Settings:
    quick: bool
    only: str | None
    workers: int
    warmup: float
    duration: float
    probe_warmup: float
    probe_duration: float
    procedures: int
    search_repeats: int
    search_duration: float
    load_timeout: float
    whatif: list[str] = field(default_factory=list)

    @classmethod
    def make(cls, quick: bool, only: str | None, workers: int, whatif: list[str]) -> Settings:
        if quick:
            return cls(quick, only, workers, 1.0, 5.0, 1.0, 2.0, 500, 15, 3.0, 60.0, whatif)
        return cls(quick, only, workers, 3.0, 20.0, 2.0, 6.0, 5000, 50, 10.0, 220.0, whatif)

    def runs(self, part: str) -> bool:
        return self.only in (None, part)


@dataclass
class Row:
    figure: str
    value: str
    target: str = "—"
    verdict: str = "info"


@dataclass
class Report:
    command: str
    started: dt.datetime
    settings: Settings
    machine: dict[str, str] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    sections: list[tuple[str, list[str]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    phases: list[PhaseResult] = field(default_factory=list)
    error: str | None = None
    elapsed: float = 0.0

    def add(self, figure: str, value: str, target: str = "—", ok: bool | None = None) -> None:
        verdict = "info" if ok is None else ("PASS" if ok else "FAIL")
        self.rows.append(Row(figure, value, target, verdict))

    def table(self) -> list[str]:
        lines = ["| Figure | Value | Target | Result |", "|---|---|---|---|"]
        lines += [f"| {r.figure} | {r.value} | {r.target} | {r.verdict} |" for r in self.rows]
        return lines

    def markdown(self) -> str:
        s = self.settings
        out = [
            "# Tambo benchmark results",
            "",
            f"- Date (UTC): {self.started:%Y-%m-%d %H:%M:%S}",
            f"- Command: `{self.command}`",
            f"- Mode: {'quick smoke run' if s.quick else 'full run'}"
            + (f", only {s.only}" if s.only else "")
            + f"; total time {self.elapsed:.0f} s",
            "",
        ]
        if s.whatif:
            out += [
                f"**WHAT-IF EXPERIMENT, not the production code: bench/whatif.py patches "
                f"{', '.join(s.whatif)} were applied.**",
                "",
            ]
        if self.error:
            out += ["**The run failed:**", "", "```", self.error.strip(), "```", ""]
        out += ["## Results", "", *self.table(), ""]
        for title, lines in self.sections:
            out += [f"## {title}", "", *lines, ""]
        out += ["## Machine", ""]
        out += [f"- {k}: {v}" for k, v in self.machine.items()]
        out += ["", "## Notes", ""]
        out += [f"- {n}" for n in self.notes]
        return "\n".join(out) + "\n"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f} ms"


def tambo(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(TAMBO), *args],
        cwd=PROJECT_DIR,
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"tambo {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}"
        )
    return result


def django_task(*args: str, timeout: float) -> dict[str, Any]:
    result = subprocess.run(
        [str(PYTHON), str(BENCH_DIR / "inside_django.py"), *args],
        cwd=PROJECT_DIR,
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"django task {args[0]} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


class Gunicorn:
    """gunicorn with the production settings on a free loopback port."""

    def __init__(self, workers: int, log_dir: Path, whatif: list[str] | None = None) -> None:
        self.workers = workers
        self.whatif = whatif or []
        self.port = free_port()
        self.log_path = log_dir / "gunicorn.log"
        self.proc: subprocess.Popen[bytes] | None = None
        app = ["whatif:application", "--pythonpath", str(BENCH_DIR)] if whatif else ["tambo.wsgi"]
        self.command = [
            str(GUNICORN),
            *app,
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{self.port}",
            "--access-logfile",
            "/dev/null",
            "--error-logfile",
            str(self.log_path),
        ]

    def start(self, timeout: float = 30.0) -> None:
        env = server_env()
        if self.whatif:
            env["TAMBO_BENCH_WHATIF"] = ",".join(self.whatif)
        self.proc = subprocess.Popen(
            self.command,
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                status, _ = request("127.0.0.1", self.port, "GET", "/api/v1/agencies")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # graceful shutdown of the master and its workers
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group of this gunicorn only
            self.proc.wait(10)


def request(
    host: str, port: int, method: str, path: str, body: Any = None, headers: Any = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json"} if data else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=data, headers=hdrs)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def smoke_check(port: int, token: str, filing_body: dict[str, Any]) -> None:
    """One of each request before measuring: fail early with the server's answer."""
    checks = [
        ("POST", "/bench/insert", {"check": 1}, {}, 201),
        (
            "POST",
            "/api/v1/filings",
            filing_body,
            {"Authorization": f"Bearer {token}", "Idempotency-Key": "bench-smoke-check"},
            201,
        ),
        ("GET", "/api/v1/procedures?q=licencia", None, {}, 200),
    ]
    for method, path, body, headers, expected in checks:
        status, data = request("127.0.0.1", port, method, path, body, headers)
        if status != expected:
            raise RuntimeError(
                f"{method} {path} answered {status}, expected {expected}: {data[:500]!r}"
            )


def describe(result: PhaseResult) -> str:
    return (
        f"{result.name}: {result.rps:.1f} req/s, p50 {ms(result.pct(50))}, "
        f"p95 {ms(result.pct(95))}, p99 {ms(result.pct(99))}, errors {result.errors}, "
        f"machine CPU busy {result.machine_busy:.0%}, "
        f"client CPU {result.client_cpu_s / result.duration:.2f} cores, "
        f"other processes {result.other_cores:.2f} cores"
    )


def errors_text(result: PhaseResult) -> str:
    if not result.errors:
        return "0"
    parts = [f"{code}×{n}" for code, n in sorted(result.statuses.items()) if not 200 <= code < 300]
    parts += [f"{name}×{n}" for name, n in sorted(result.exceptions.items())]
    share = result.errors / max(1, result.requests_total)
    return f"{result.errors} ({share:.1%}: {', '.join(parts)})"


def phase_lines(results: list[PhaseResult]) -> list[str]:
    lines = [
        "| Phase | Requests OK | Req/s | p50 | p95 | p99 | max | Errors | Machine CPU busy "
        "| Load-generator CPU | Other processes' CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        top = r.latencies_ms[-1] if r.latencies_ms else math.nan
        lines.append(
            f"| {r.name} | {r.ok} | {r.rps:.1f} | {ms(r.pct(50))} | {ms(r.pct(95))} | "
            f"{ms(r.pct(99))} | {ms(top)} | {errors_text(r)} | {r.machine_busy:.0%} | "
            f"{r.client_cpu_s / r.duration:.2f} of {os.cpu_count()} cores | "
            f"{r.other_cores:.2f} cores |"
        )
    states = sorted({k for r in results for k in r.backend_states})
    if states:
        lines += [
            "",
            "What the bench database's PostgreSQL backends were doing (pg_stat_activity "
            "sampled every 100 ms; average number of backends in each state):",
            "",
            "| Phase | " + " | ".join(states) + " |",
            "|---" * (len(states) + 1) + "|",
        ]
        lines += [
            f"| {r.name} | "
            + " | ".join(f"{r.backend_states.get(k, 0):.2f}" for k in states)
            + " |"
            for r in results
        ]
    lines += [
        "",
        "CPU per request (measured window; process CPU time divided by 2xx answers):",
        "",
        "| Phase | gunicorn (Django) | PostgreSQL backends | load generator | "
        "gunicorn + PostgreSQL |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        client_cores = r.client_cpu_s / r.duration
        app, db = r.cpu_ms_per_request(r.server_cores), r.cpu_ms_per_request(r.postgres_cores)
        lines.append(
            f"| {r.name} | {app:.2f} ms ({r.server_cores:.2f} cores) | "
            f"{db:.2f} ms ({r.postgres_cores:.2f} cores) | "
            f"{r.cpu_ms_per_request(client_cores):.2f} ms | {app + db:.2f} ms |"
        )
    samples = [s for r in results for s in r.error_samples[:2]]
    if samples:
        lines += ["", "Error samples:", "", "```", *samples, "```"]
    return lines


def choose_client_mode(
    cfg: Settings, port: int, tokens: list[str], filing_body: dict[str, Any], report: Report
) -> LoadGenerator:
    """Probe the ceiling with each client layout; keep the one that gets the most out of it."""
    probe = Phase(
        "ceiling probe", "POST", ("/bench/insert",), "insert", cfg.probe_warmup, cfg.probe_duration
    )
    best: tuple[float, LoadGenerator] | None = None
    lines = [
        "| Clients | /bench/insert req/s | p99 | Machine CPU busy | Load-generator CPU "
        "| Other processes' CPU |",
        "|---|---|---|---|---|---|",
    ]
    for processes, threads in CLIENT_MODES:
        gen = LoadGenerator("127.0.0.1", port, tokens, filing_body, processes, threads)
        result = gen.run(probe)
        report.phases.append(result)
        log(f"probe {gen.label}: {describe(result)}")
        lines.append(
            f"| {gen.label} | {result.rps:.1f} | {ms(result.pct(99))} | "
            f"{result.machine_busy:.0%} | {result.client_cpu_s / result.duration:.2f} cores | "
            f"{result.other_cores:.2f} cores |"
        )
        if best is None or result.rps > best[0]:
            if best is not None:
                best[1].close()
            best = (result.rps, gen)
        else:
            gen.close()
    assert best is not None
    chosen = best[1]
    lines += [
        "",
        f"Chosen: **{chosen.label}** (highest ceiling throughput in a "
        f"{cfg.probe_warmup:.0f}+{cfg.probe_duration:.0f} s probe); used for every "
        "throughput figure below.",
    ]
    report.sections.append(("Client layout (load generator)", lines))
    return chosen


def run_filing(cfg: Settings, gen: LoadGenerator, report: Report) -> None:
    filing = gen.run(
        Phase("filing", "POST", ("/api/v1/filings",), "filing", cfg.warmup, cfg.duration)
    )
    log(describe(filing))
    ceiling = gen.run(
        Phase(
            "ceiling /bench/insert", "POST", ("/bench/insert",), "insert", cfg.warmup, cfg.duration
        )
    )
    log(describe(ceiling))
    ratio = filing.rps / ceiling.rps if ceiling.rps else 0.0
    # Latency below saturation (informative): the same 32 clients, paced so that together
    # they file at half the throughput just measured, each on a fixed schedule (a latency
    # counts from the scheduled instant). At saturation closed-loop clients queue by
    # construction: their mean latency is clients / throughput (Little's law).
    target_rate = 0.5 * filing.rps
    paced = gen.run(
        Phase(
            f"filing paced at {target_rate:.0f} req/s (half the filing throughput)",
            "POST",
            ("/api/v1/filings",),
            "filing",
            cfg.warmup,
            cfg.duration,
            interval=CLIENTS / target_rate if target_rate else 0.0,
        )
    )
    log(describe(paced))
    report.phases += [filing, ceiling, paced]
    report.add("Filing throughput, 32 clients (POST /api/v1/filings)", f"{filing.rps:.1f} req/s")
    report.add("Ceiling throughput, 32 clients (POST /bench/insert)", f"{ceiling.rps:.1f} req/s")
    report.add("Filing / ceiling", f"{ratio:.1%}", f"≥ {TARGET_RATIO:.0%}", ratio >= TARGET_RATIO)
    report.add(
        "Filing latency p50 / p95 at saturation", f"{ms(filing.pct(50))} / {ms(filing.pct(95))}"
    )
    p99 = filing.pct(99)
    report.add(
        "Filing latency p99 at saturation (32 closed-loop clients)",
        ms(p99),
        f"< {TARGET_FILING_P99_MS:.0f} ms",
        not math.isnan(p99) and p99 < TARGET_FILING_P99_MS,
    )
    report.add(
        "Little's law floor at saturation: mean latency = 32 clients / throughput",
        ms(CLIENTS / filing.rps * 1000 if filing.rps else math.nan),
    )
    report.add(
        f"Filing p50 / p95 / p99 paced at half the filing throughput ({paced.rps:.0f} req/s "
        "achieved)",
        f"{ms(paced.pct(50))} / {ms(paced.pct(95))} / {ms(paced.pct(99))}",
    )
    report.add(
        "Ceiling latency p50 / p95 / p99",
        f"{ms(ceiling.pct(50))} / {ms(ceiling.pct(95))} / {ms(ceiling.pct(99))}",
    )
    report.add(
        "Filing errors (non-2xx or failed requests)", errors_text(filing), "0", filing.errors == 0
    )
    report.add("Ceiling errors", errors_text(ceiling), "0", ceiling.errors == 0)
    report.sections.append(
        (
            f"Filing vs. one-INSERT ceiling ({cfg.warmup:.0f} s warm-up + {cfg.duration:.0f} s measured each, "
            f"{gen.label})",
            phase_lines([filing, ceiling, paced]),
        )
    )


def sequential_search(port: int, repeats: int) -> dict[str, list[float]]:
    """One client, one request at a time, queries interleaved; 2xx only."""
    timings: dict[str, list[float]] = {q: [] for q in SEARCH_QUERIES}
    paths = {q: "/api/v1/procedures?" + urllib.parse.urlencode({"q": q}) for q in SEARCH_QUERIES}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    deadline = time.monotonic() + 90
    try:
        for round_ in range(repeats + 2):  # the first two rounds are warm-up
            if time.monotonic() > deadline:
                break
            for q in SEARCH_QUERIES:
                t0 = time.perf_counter()
                conn.request("GET", paths[q], headers={"Host": "127.0.0.1"})
                response = conn.getresponse()
                data = response.read()
                elapsed = (time.perf_counter() - t0) * 1000
                if response.status != 200:
                    raise RuntimeError(f"search {q!r} answered {response.status}: {data[:300]!r}")
                if round_ >= 2:
                    timings[q].append(elapsed)
    finally:
        conn.close()
    return timings


def run_search(cfg: Settings, gen: LoadGenerator, port: int, workdir: Path, report: Report) -> None:
    catalog_dir = workdir / "catalog"
    t0 = time.perf_counter()
    written = catalog_gen.generate(PROJECT_DIR / "catalog", catalog_dir, cfg.procedures)
    log(f"generated {written} procedure files in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    loaded = tambo("catalog", "load", str(catalog_dir), timeout=cfg.load_timeout)
    load_s = time.perf_counter() - t0
    log(f"loaded in {load_s:.1f} s: {loaded.stdout.strip()}")
    report.add(
        f"Catalogue load of {written} procedure files (`tambo catalog load`)",
        f"{load_s:.1f} s ({load_s / written * 1000:.1f} ms per file)",
    )

    seq = sequential_search(port, cfg.search_repeats)
    every = sorted(x for values in seq.values() for x in values)
    p95 = percentile(every, 95)
    log(
        f"sequential search: p50 {ms(percentile(every, 50))}, p95 {ms(p95)} ({len(every)} requests)"
    )

    paths = tuple("/api/v1/procedures?" + urllib.parse.urlencode({"q": q}) for q in SEARCH_QUERIES)
    warmup = 1.0 if cfg.quick else 2.0
    loaded_search = gen.run(
        Phase("search, 32 clients", "GET", paths, "get", warmup, cfg.search_duration)
    )
    log(describe(loaded_search))
    report.phases.append(loaded_search)

    inproc = django_task("search", str(cfg.search_repeats * 2), *SEARCH_QUERIES, timeout=120)
    in_every = sorted(x for values in inproc["timings_ms"].values() for x in values)
    in_p95 = percentile(in_every, 95)
    log(f"in-process search_procedures: p95 {ms(in_p95)} over {inproc['published']} procedures")

    size = f"{inproc['published']} published procedures"
    report.add(f"Search p50 over HTTP, sequential ({size})", ms(percentile(every, 50)))
    report.add(
        f"Search p95 over HTTP, sequential ({size})",
        ms(p95),
        f"< {TARGET_SEARCH_P95_MS:.0f} ms",
        not math.isnan(p95) and p95 < TARGET_SEARCH_P95_MS,
    )
    report.add("Search throughput, 32 clients", f"{loaded_search.rps:.1f} req/s")
    report.add(
        "Search latency with 32 clients p50 / p95 / p99",
        f"{ms(loaded_search.pct(50))} / {ms(loaded_search.pct(95))} / {ms(loaded_search.pct(99))}",
    )
    report.add(
        "Search errors with 32 clients", errors_text(loaded_search), "0", loaded_search.errors == 0
    )
    report.add("search_procedures() in-process p95 (secondary)", ms(in_p95))

    lines = [
        "| Query | Results | HTTP p50 | HTTP p95 | In-process p50 | In-process p95 "
        "| PostgreSQL reads catalog_procedure by |",
        "|---|---|---|---|---|---|---|",
    ]
    for q in SEARCH_QUERIES:
        http_t = sorted(seq[q])
        in_t = sorted(inproc["timings_ms"][q])
        lines.append(
            f"| `{q}` | {inproc['counts'].get(q, 'n/a')} | {ms(percentile(http_t, 50))} | "
            f"{ms(percentile(http_t, 95))} | {ms(percentile(in_t, 50))} | "
            f"{ms(percentile(in_t, 95))} | {inproc.get('plans', {}).get(q, 'n/a')} |"
        )
    lines += [
        "",
        f"Sequential: one client, {len(every)} requests ({cfg.search_repeats} rounds of the "
        f"{len(SEARCH_QUERIES)} queries after 2 warm-up rounds). In-process: "
        f"`search_procedures(q)` timed in one Django process, {len(in_every)} calls. "
        f"Results are capped at 50. Procedure table: {inproc['table_size']}.",
        "",
        *phase_lines([loaded_search]),
    ]
    report.sections.append((f"Catalogue search ({size})", lines))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (under 90 s)")
    parser.add_argument("--only", choices=["filing", "search"], help="run one part only")
    parser.add_argument(
        "--workers", type=int, default=DEFAULT_WORKERS, help="gunicorn sync workers (default 4)"
    )
    parser.add_argument(
        "--clients",
        metavar="PxT",
        help="client layout, e.g. 4x8 (processes x threads = 32); skips the layout probe",
    )
    parser.add_argument(
        "--whatif",
        metavar="NAMES",
        help="experiment: run the server with bench/whatif.py patches (comma-separated: "
        + ", ".join(WHATIF_PATCHES)
        + "); the report is marked as not measuring the production code",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before starting, wait up to SECONDS for other processes to use < 0.3 cores",
    )
    parser.add_argument(
        "--results", type=Path, default=BENCH_DIR / "RESULTS.md", help="where to write the report"
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    whatif = [n for n in (args.whatif or "").split(",") if n]
    unknown = [n for n in whatif if n not in WHATIF_PATCHES]
    if unknown:
        raise SystemExit(f"unknown --whatif {unknown}; known: {', '.join(WHATIF_PATCHES)}")
    cfg = Settings.make(args.quick, args.only, args.workers, whatif)
    command = shlex.join([".venv/bin/python", "bench/run.py", *argv])
    report = Report(command=command, started=dt.datetime.now(dt.UTC), settings=cfg)
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="tambo-bench-"))
    common.RUN_VAR_DIR = workdir / "var"
    common.RUN_VAR_DIR.mkdir()
    server: Gunicorn | None = None
    gen: LoadGenerator | None = None
    try:
        report.machine = machine_info()
        log(f"machine: {report.machine}")
        if args.wait_quiet > 0:
            log(f"waiting up to {args.wait_quiet:.0f} s for the machine to be quiet")
        before, waited = common.wait_until_quiet(args.wait_quiet)
        report.machine["load before the run"] = (
            f"{before.other_cores:.2f} cores used by other processes"
            + (f" (after waiting {waited:.0f} s)" if waited >= 2.5 else "")
        )
        log(f"other processes use {before.other_cores:.2f} cores")
        log("creating database tambo_bench, migrating, loading the catalogue")
        recreate_database()
        if "rpc" in cfg.whatif:
            common.run_sql(f"ALTER DATABASE {common.BENCH_DB} SET random_page_cost = 1.1")
        tambo("migrate", "--noinput", "-v", "0", timeout=120)
        tambo("catalog", "load", str(PROJECT_DIR / "catalog"), timeout=60)
        setup = django_task("setup", str(CLIENTS), timeout=60)
        tokens, filing_body = setup["tokens"], setup["filing_body"]
        log(
            f"{len(tokens)} citizens with tokens; filing {filing_body['agency']}/{filing_body['procedure']}"
        )

        server = Gunicorn(cfg.workers, workdir, cfg.whatif)
        server.start()
        common.SERVER_PID = server.proc.pid if server.proc else None
        gunicorn_version = subprocess.run(
            [str(GUNICORN), "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        report.machine["gunicorn"] = (
            f"{gunicorn_version}, {cfg.workers} sync workers, bound to 127.0.0.1:{server.port}"
        )
        smoke_check(server.port, tokens[0], filing_body)
        log(f"gunicorn answering on 127.0.0.1:{server.port} with {cfg.workers} workers")

        if args.clients:
            processes, threads = (int(x) for x in args.clients.lower().split("x"))
            if processes * threads != CLIENTS:
                raise ValueError(f"--clients must give {CLIENTS} clients in all")
            gen = LoadGenerator("127.0.0.1", server.port, tokens, filing_body, processes, threads)
            report.sections.append(
                ("Client layout (load generator)", [f"Given with --clients: {gen.label}."])
            )
        else:
            gen = choose_client_mode(cfg, server.port, tokens, filing_body, report)
        report.machine["load generator"] = (
            f"{gen.label}, one HTTPConnection and one token per client"
        )
        if cfg.runs("filing"):
            run_filing(cfg, gen, report)
        if cfg.runs("search"):
            run_search(cfg, gen, server.port, workdir, report)
        report.notes += [
            f"Filing: POST /api/v1/filings for {filing_body['agency']}/{filing_body['procedure']} "
            f"(no file fields; form {', '.join(setup['procedure_fields'])}) with "
            "`tambo.demo.samples.sample_answers`, a Bearer token per client and a unique "
            "Idempotency-Key per request. Every measured filing is a new expediente (201).",
            "Ceiling: POST /bench/insert (one INSERT of a small JSON row, no auth) on the same "
            "gunicorn, database and clients, measured right after the filing phase.",
            "Closed loop: each of the 32 clients sends its next request when the previous one "
            "answers. A request counts when it completes inside the measured window; latency "
            "is from sending the request to reading the whole response (2xx only); throughput "
            "counts 2xx answers only.",
            f"The load generator, gunicorn and PostgreSQL share the same {report.machine['nproc']} "
            "cores: the client's CPU time is reported per phase and is taken from the server, "
            "so absolute figures are lower than on a separate client machine. The ratio "
            "filing/ceiling compares both under the same handicap.",
            "gunicorn's sync workers close the connection after each response, so every "
            "request includes a loopback TCP connect (same for every endpoint).",
            f"Server: gunicorn tambo.wsgi with {cfg.workers} sync workers "
            "(2 per core: the workers wait on PostgreSQL part of each request), settings "
            "tambo.settings.production with TAMBO_BENCH_ENDPOINTS=1, TAMBO_LOG_LEVEL=WARNING, "
            "access log off, persistent database connections (CONN_MAX_AGE 60).",
            f"Search catalogue: the real agencies plus {cfg.procedures} procedures generated "
            "from the real procedure files (new code, name and summary in Spanish with "
            "accents, English translation), loaded with `tambo catalog load`; the 14 real "
            "procedures are loaded too.",
        ]
        if report.phases:
            worst = max(report.phases, key=lambda r: r.other_cores)
            report.add(
                "Other processes' CPU during measurements (max over phases)",
                f"{worst.other_cores:.2f} cores ({worst.name})",
            )
            if worst.other_cores > 0.2:
                report.notes.insert(
                    0,
                    f"**Other processes were busy during the run** (up to "
                    f"{worst.other_cores:.2f} of {report.machine['nproc']} cores, in phase "
                    f"'{worst.name}'; see the per-phase tables). Absolute figures are lower "
                    "than on a quiet machine; compare runs only when this is near 0.",
                )
        report.notes.append(
            "Where the time goes: `.venv/bin/python bench/profile_filing.py --procedures 5000` "
            "(SQL of one filing, cProfile, search plans); proposed changes can be measured "
            "before they are written with `bench/run.py --whatif ...` (see bench/whatif.py)."
        )
        if cfg.quick:
            report.notes.append(
                "Quick run: short windows and a 500-procedure catalogue; use the full run "
                "(`make bench`) for the figures that count."
            )
        return_code = 0
    except BaseException as exc:
        report.error = "".join(traceback.format_exception(exc))
        log(f"FAILED: {exc}")
        if server is not None:
            log(f"gunicorn log:\n{server.log_tail()}")
        return_code = 1
        if isinstance(exc, KeyboardInterrupt):
            return_code = 130
    finally:
        if gen is not None:
            gen.close()
        if server is not None:
            server.stop()
        try:
            drop_database()
        except Exception as exc:  # report, keep cleaning up
            log(f"could not drop tambo_bench: {exc}")
        shutil.rmtree(workdir, ignore_errors=True)
    report.elapsed = time.monotonic() - began
    args.results.write_text(report.markdown(), encoding="utf-8")
    print()
    print("\n".join(report.table()))
    print(
        f"\n{'FAILED' if report.error else 'Done'} in {report.elapsed:.0f} s; report in {args.results}"
    )
    return return_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
