"""Exchange between two nodes on loopback: signed request + verified answer latency, and the
provider's throughput signed vs unsigned (the cost of the protocol as a ratio).

MDSI's node (provider) runs gunicorn with 4 workers and the production settings on its own
PostgreSQL database (tambo_bench_xa); MTC's node is a database (tambo_bench_xb), a key and
a client process that calls ``tambo.exchange.client.obtain`` (the real client: signs, sends,
verifies the owner's signature and the answer schema, logs). The unsigned ceiling is the
same service handler behind ``/bench/x/...`` (TAMBO_BENCH_ENDPOINTS), without signatures,
access checks or logs. Writes bench/out/exchange.md; databases dropped at the end.

    .venv/bin/python bench/bench_exchange.py [--calls 500] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    BENCH_DIR,
    GUNICORN,
    PG_HOST,
    PG_PORT,
    PG_USER,
    PROJECT_DIR,
    PYTHON,
    TAMBO,
    free_port,
    server_env,
)

DATABASES = {"MDSI": "tambo_bench_xa", "MTC": "tambo_bench_xb"}
LATENCY_P95_MS = 30.0
OVERHEAD_TARGET = 0.25

# Runs inside the consumer's node (MTC's environment): the real client, sequentially, then
# 32 threads signed, then 32 threads unsigned against the bench path.
CLIENT = r"""
import json, sys, threading, time, urllib.request
import django
django.setup()
from tambo.exchange.client import Purpose, obtain
from tambo.exchange.registry import registry

calls, seconds, callers = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
query = {"document_type": "dni", "document_number": "40111222"}
purpose = Purpose("MTC-2026-0000001", "RADIOAFICIONADO", "TUO de la Ley 27444, art. 48")
def signed():
    obtain("MTC", "licencias-funcionamiento", "1", query, purpose, subject_document="dni:40111222")
node = registry().agency("MDSI").node.rstrip("/")
body = json.dumps({"query": query}).encode()
def unsigned():
    request = urllib.request.Request(f"{node}/bench/x/licencias-funcionamiento/1", data=body,
                                     headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
for _ in range(20):
    signed()
latencies = []
for _ in range(calls):
    started = time.perf_counter()
    signed()
    latencies.append((time.perf_counter() - started) * 1000)
def throughput(call):
    done, errors, stop = [0], [0], time.monotonic() + seconds
    def work():
        while time.monotonic() < stop:
            try:
                call()
                done[0] += 1
            except Exception:
                errors[0] += 1
    threads = [threading.Thread(target=work) for _ in range(callers)]
    started = time.monotonic()
    for t in threads: t.start()
    for t in threads: t.join()
    return done[0] / (time.monotonic() - started), errors[0]
signed_rps, signed_errors = throughput(signed)
unsigned_rps, unsigned_errors = throughput(unsigned)
print(json.dumps({"latencies": latencies, "signed_rps": signed_rps, "signed_errors": signed_errors,
                  "unsigned_rps": unsigned_rps, "unsigned_errors": unsigned_errors}))
"""


def _admin() -> psycopg.Connection:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
    )


def _drop(name: str) -> None:
    with _admin() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _create(name: str) -> None:
    _drop(name)
    with _admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


class Node:
    """One agency's node: its database, var dir and key; gunicorn when it serves."""

    def __init__(self, agency: str, root: Path, agencies_file: Path) -> None:
        self.agency, self.port = agency, free_port()
        self.root = root / agency
        self.env = server_env()
        self.env.update(
            DATABASE_URL=f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{DATABASES[agency]}",
            TAMBO_VAR_DIR=str(self.root),
            TAMBO_MEDIA_ROOT=str(self.root / "media"),
            TAMBO_SIGNING_KEYS_DIR=str(self.root / "keys"),
            TAMBO_EXCHANGE_AGENCIES=str(agencies_file),
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tambo(self, *args: str) -> None:
        subprocess.run(
            [str(TAMBO), *args], env=self.env, cwd=PROJECT_DIR, check=True, capture_output=True
        )

    def prepare(self) -> None:
        _create(DATABASES[self.agency])
        self.root.mkdir(parents=True)
        self.tambo("migrate", "--noinput", "-v", "0")
        self.tambo("catalog", "load", str(PROJECT_DIR / "catalog"))
        self.tambo("exchange", "keys", self.agency, "--node", self.url)

    def serve(self, workers: int) -> None:
        log = (self.root / "gunicorn.log").open("wb")
        self.proc = subprocess.Popen(
            [str(GUNICORN), "tambo.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{self.port}"],
            env=self.env,
            cwd=PROJECT_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        import urllib.request

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/x/v1/registry", timeout=2) as answer:  # noqa: S310 - loopback
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"{self.agency}'s node did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # this gunicorn's own group only
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def report(result: dict, calls: int) -> str:
    from common import percentile

    latencies = sorted(result["latencies"])
    p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
    overhead = 1 - result["signed_rps"] / result["unsigned_rps"]
    rows = [
        ("Signed request + verified answer, p50", f"{p50:.1f} ms", "", ""),
        (
            "Signed request + verified answer, p95",
            f"{p95:.1f} ms",
            f"< {LATENCY_P95_MS:.0f} ms",
            "PASS" if p95 < LATENCY_P95_MS else "FAIL",
        ),
        ("Signed request + verified answer, p99", f"{p99:.1f} ms", "", ""),
        (
            "Provider, 32 callers, signed",
            f"{result['signed_rps']:.0f} req/s ({result['signed_errors']} errors)",
            "",
            "",
        ),
        (
            "Provider, 32 callers, unsigned",
            f"{result['unsigned_rps']:.0f} req/s ({result['unsigned_errors']} errors)",
            "",
            "",
        ),
        (
            "Cost of signing and checking (1 - signed/unsigned)",
            f"{overhead:.0%}",
            f"<= {OVERHEAD_TARGET:.0%}",
            "PASS" if overhead <= OVERHEAD_TARGET else "FAIL",
        ),
    ]
    lines = [
        "## Exchange between two nodes (bench/bench_exchange.py)",
        "",
        f"MDSI's node: gunicorn, 4 workers, production settings, PostgreSQL; {calls} sequential "
        "calls of `obtain()` from MTC's node on loopback, then 32 concurrent callers (threads of "
        "one client process, which also signs, verifies and logs: on a small machine the "
        "client shares the CPU with the provider).",
        "",
        "| Figure | Value | Target | Result |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--callers", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tambo-bench-exchange-") as tmp:
        root = Path(tmp)
        agencies = root / "agencies.yaml"
        provider, consumer = Node("MDSI", root, agencies), Node("MTC", root, agencies)
        try:
            provider.prepare()
            consumer.prepare()
            provider.serve(workers=4)
            done = subprocess.run(
                [str(PYTHON), "-c", CLIENT, str(args.calls), str(args.seconds), str(args.callers)],
                env=consumer.env,
                cwd=PROJECT_DIR,
                check=True,
                capture_output=True,
                text=True,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
        finally:
            provider.stop()
            for name in DATABASES.values():
                _drop(name)
    text = report(result, args.calls)
    out = BENCH_DIR / "out"
    out.mkdir(exist_ok=True)
    (out / "exchange.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
