"""The load mix (bench/locustfile.py) at the expected peak, then raised until Tambo breaks.

    .venv/bin/python bench/bench_load.py [--peak-users 100] [--duration 40] [--max-users 1600]

Creates the tambo_bench database, loads the catalogue, creates citizens, officials and real
expedientes (bench/inside_django.py setup_load), starts gunicorn with the production
settings, then runs locust headless: first at the expected peak, then doubling the users
until the service breaks (errors above 1 %, p95 above 2 s, or throughput no longer
growing). Writes bench/out/load.md (appended to RESULTS.md by collect.py) and prints it.

Expected peak: one agency node of a large municipality in its busiest hour. MDSI-like
districts file a few thousand procedures a month; the expected peak assumes 100 people
using the service at the same moment (citizens with 1-3 s and officials with 2-5 s between
actions), about 50 requests per second — an order of magnitude above a municipality's busy
hour, so that the headroom shows. The service "breaks" at the first step where errors
exceed 1 % or p95 exceeds 2 s; where throughput stops growing it is saturated.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import common
from common import BENCH_DIR, PROJECT_DIR, VENV_BIN, CpuSampler, machine_info, recreate_database
from run import Gunicorn, django_task, tambo

TARGET_P95_MS = 200.0
TARGET_ERROR_RATE = 0.001
BREAK_ERROR_RATE = 0.01
BREAK_P95_MS = 2000.0


@dataclass
class Step:
    users: int
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float
    cpu_busy: float
    per_name: list[dict[str, str]]
    failures_seen: list[dict[str, str]]

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 1.0

    def broken(self) -> str | None:
        if self.error_rate > BREAK_ERROR_RATE:
            return f"errors {self.error_rate:.1%} > {BREAK_ERROR_RATE:.0%}"
        if self.p95 > BREAK_P95_MS:
            return f"p95 {self.p95:.0f} ms > {BREAK_P95_MS:.0f} ms"
        return None


def run_step(port: int, users: int, duration: int, workdir: Path, data: Path) -> Step:
    prefix = workdir / f"step_{users}"
    cpu = CpuSampler()
    command = [
        str(VENV_BIN / "locust"),
        "-f",
        str(BENCH_DIR / "locustfile.py"),
        "--headless",
        "--host",
        f"http://127.0.0.1:{port}",
        "--users",
        str(users),
        "--spawn-rate",
        str(max(10, users // 4)),
        "--run-time",
        f"{duration}s",
        "--stop-timeout",
        "10",
        "--csv",
        str(prefix),
        # The spawn ramp (users arriving at 25 per second) is not the steady load the step
        # stands for: statistics start once every user is running.
        "--reset-stats",
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    subprocess.run(
        command,
        cwd=PROJECT_DIR,
        env={**common.server_env(), "TAMBO_LOAD_DATA": str(data)},
        capture_output=True,
        timeout=duration + 120,
        check=False,  # locust exits 1 when any request failed: the CSV says how many
    )
    used = cpu.finish()
    with open(f"{prefix}_stats.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    return Step(
        users=users,
        requests=int(total["Request Count"]),
        failures=int(total["Failure Count"]),
        rps=float(total["Requests/s"]),
        p50=float(total["50%"]),
        p95=float(total["95%"]),
        p99=float(total["99%"]),
        cpu_busy=used.machine_busy,
        per_name=[r for r in rows if r["Name"] != "Aggregated"],
        failures_seen=_failures(Path(f"{prefix}_failures.csv")),
    )


def _failures(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as handle:
        return sorted(csv.DictReader(handle), key=lambda r: -int(r["Occurrences"]))


def report(
    steps: list[Step], peak_users: int, broke: str, machine: dict[str, str], warmup: int
) -> str:
    peak = next(s for s in steps if s.users == peak_users)
    ok_p95 = peak.p95 < TARGET_P95_MS
    ok_err = peak.error_rate < TARGET_ERROR_RATE
    best = max(steps, key=lambda s: s.rps if s.broken() is None else 0)
    lines = [
        "## Load mix with locust (bench/bench_load.py)",
        "",
        f"Machine: {machine.get('nproc')} cores, {machine.get('memory')}; gunicorn, PostgreSQL "
        "and locust share it. Mix and expected peak: see the docstring of bench/bench_load.py "
        "and bench/locustfile.py. Each step's figures start once all its users are running "
        f"(locust --reset-stats); a {warmup} s run at the peak comes first, unrecorded, so "
        "that a fresh server's one-time costs are not counted as load.",
        "",
        "| Figure | Value | Target | Result |",
        "|---|---|---|---|",
        f"| Expected peak ({peak_users} users): throughput | {peak.rps:.1f} req/s | — | info |",
        f"| Expected peak: p95 | {peak.p95:.0f} ms | < {TARGET_P95_MS:.0f} ms | "
        f"{'PASS' if ok_p95 else 'FAIL'} |",
        f"| Expected peak: errors | {peak.failures} of {peak.requests} ({peak.error_rate:.2%}) | "
        f"< {TARGET_ERROR_RATE:.1%} | {'PASS' if ok_err else 'FAIL'} |",
        f"| Highest sustained throughput (not broken) | {best.rps:.1f} req/s at {best.users} users "
        f"(p95 {best.p95:.0f} ms) | — | info |",
        f"| Where it broke | {broke} | — | info |",
        "",
        "| Users | Requests | Req/s | p50 | p95 | p99 | Errors | Machine CPU busy | Verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in steps:
        verdict = s.broken() or "holds"
        lines.append(
            f"| {s.users} | {s.requests} | {s.rps:.1f} | {s.p50:.0f} ms | {s.p95:.0f} ms | "
            f"{s.p99:.0f} ms | {s.failures} ({s.error_rate:.2%}) | {s.cpu_busy:.0%} | {verdict} |"
        )
    lines += [
        "",
        f"Per request type at the expected peak ({peak_users} users):",
        "",
        "| Request | Count | Failures | p50 | p95 | p99 |",
        "|---|---|---|---|---|---|",
    ]
    for r in sorted(peak.per_name, key=lambda r: -int(r["Request Count"])):
        lines.append(
            f"| {r['Type']} {r['Name']} | {r['Request Count']} | {r['Failure Count']} | "
            f"{float(r['50%']):.0f} ms | {float(r['95%']):.0f} ms | {float(r['99%']):.0f} ms |"
        )
    for s in steps:
        if s.failures_seen:
            lines += ["", f"Failures at {s.users} users (how it failed):", ""]
            lines += [
                f"- {r['Occurrences']} x {r['Method']} {r['Name']}: {r['Error'][:160]}"
                for r in s.failures_seen[:8]
            ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peak-users", type=int, default=100)
    parser.add_argument("--duration", type=int, default=40, help="seconds per step")
    parser.add_argument("--max-users", type=int, default=1600)
    parser.add_argument(
        "--warmup", type=int, default=20, help="seconds at the peak before the steps (not recorded)"
    )
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--out", default=str(BENCH_DIR / "out" / "load.md"))
    args = parser.parse_args(argv)
    if shutil.which(str(VENV_BIN / "locust")) is None:
        raise SystemExit("locust is not installed: .venv/bin/pip install -e '.[bench]'")
    workdir = Path(tempfile.mkdtemp(prefix="tambo-load-"))
    common.RUN_VAR_DIR = workdir / "var"
    common.RUN_VAR_DIR.mkdir()
    server = None
    try:
        machine = machine_info()
        recreate_database()
        tambo("migrate", "--noinput", "-v", "0", timeout=180)
        tambo("catalog", "load", str(PROJECT_DIR / "catalog"), timeout=120)
        tambo("collectstatic", "--noinput", "-v", "0", timeout=180)  # pages need the manifest
        tambo("keys", "demo", timeout=120)  # signers sign resolutions with the demo PKI
        data = django_task("setup_load", "200", "300", timeout=600)
        data_path = workdir / "data.json"
        data_path.write_text(json.dumps(data), encoding="utf-8")
        server = Gunicorn(args.workers, workdir)
        server.start()
        if args.warmup > 0:
            # A fresh server's first requests pay one-time costs in each worker (imports,
            # templates, connections, PostgreSQL's caches): a production node has long paid
            # them, so a short run at the peak comes first and is not recorded.
            print(f"load: warm-up, {args.peak_users} users for {args.warmup} s", flush=True)
            (workdir / "warmup").mkdir()
            run_step(server.port, args.peak_users, args.warmup, workdir / "warmup", data_path)
        steps: list[Step] = []
        users, broke = args.peak_users, "did not break up to --max-users"
        while users <= args.max_users:
            print(f"load: {users} users for {args.duration} s", flush=True)
            step = run_step(server.port, users, args.duration, workdir, data_path)
            steps.append(step)
            print(
                f"  {step.rps:.1f} req/s, p95 {step.p95:.0f} ms, errors {step.error_rate:.2%}",
                *(
                    f"\n  {r['Occurrences']} x {r['Name']}: {r['Error'][:160]}"
                    for r in step.failures_seen[:5]
                ),
                flush=True,
            )
            reason = step.broken()
            if reason is not None:
                broke = f"{users} users: {reason}"
                break
            if len(steps) > 1 and step.rps < steps[-2].rps * 1.05 and users > args.peak_users:
                broke = (
                    f"saturated at {steps[-2].users}-{users} users: throughput stopped growing "
                    f"({steps[-2].rps:.0f} → {step.rps:.0f} req/s) while latency rose "
                    f"(p95 {steps[-2].p95:.0f} → {step.p95:.0f} ms)"
                )
                # Keep going: saturation is not yet breaking; the next step shows how it fails.
            users *= 2
        text = report(steps, args.peak_users, broke, machine, args.warmup)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(text)
        return 0
    finally:
        if server is not None:
            server.stop()
            # The server's own account of errors (tracebacks, timeouts), kept for the report.
            (BENCH_DIR / "out").mkdir(exist_ok=True)
            (BENCH_DIR / "out" / "load-gunicorn.log").write_text(server.log_tail(), "utf-8")
        time.sleep(0.5)
        common.drop_database()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
