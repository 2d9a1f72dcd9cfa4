"""Exchange between two nodes on loopback (issue 5's two figures):

1. latency of a signed request and its verified answer: MTC's node calls
   ``tambo.exchange.client.obtain`` (the real client: signs, sends, verifies the owner's
   signature, the answer's binding to the request and its schema, writes its message log
   and audit entry) 500 times one after the other against MDSI's node — p50/p95/p99;
2. the provider node's throughput under 32 concurrent callers, signed vs the same endpoint
   without the protocol, in the same run: the cost of the protocol as a ratio.

MDSI's node (provider) runs gunicorn with 4 workers and the production settings on its own
PostgreSQL database; MTC's node is a database, a key and the calling processes. For (2) the
callers must not be what is measured: 4 processes x 8 threads, each process signs all its
requests *before* the timed window (every one with its own nonce and request id, valid 60 s),
and in the window both variants only send a prepared body and read the answer. The signed
variant pays, on the provider, the signature and digest check, the nonce row, the access
rule, the signed answer, the message log and its audit entry; the unsigned twin
(``/bench/x/...``, only with TAMBO_BENCH_ENDPOINTS) does the rest of the same work (body,
query schema, handler, answer schema, the citizen's access record). Writes
bench/out/exchange.md; the databases are dropped at the end.

    .venv/bin/python bench/bench_exchange.py [--calls 500] [--seconds 10] [--processes 4]
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
    CLOCK_TICKS,
    GUNICORN,
    PG_HOST,
    PG_PORT,
    PG_USER,
    PROJECT_DIR,
    PYTHON,
    TAMBO,
    _descendants,
    _proc_table,
    free_port,
    server_env,
)

DATABASES = {"MDSI": "tambo_bench_xa", "MTC": "tambo_bench_xb"}
LATENCY_P95_MS = 30.0
OVERHEAD_TARGET = 0.25

# Runs inside MTC's node: the real client, sequentially (figure 1).
LATENCY = r"""
import json, sys, time
import django
django.setup()
from tambo.exchange.client import Purpose, obtain

calls = int(sys.argv[1])
query = {"document_type": "dni", "document_number": "40111222"}
purpose = Purpose("MTC-2026-0000001", "RADIOAFICIONADO", "TUO de la Ley 27444, art. 48")
def signed():
    obtain("MTC", "licencias-funcionamiento", "1", query, purpose, subject_document="dni:40111222")
for _ in range(20):
    signed()
latencies = []
for _ in range(calls):
    started = time.perf_counter()
    signed()
    latencies.append((time.perf_counter() - started) * 1000)
print(json.dumps({"latencies": latencies}))
"""

# One calling process of figure 2 (MTC's environment): prepares every request first, says
# "ready", waits for "go" on stdin, then its threads send for the given seconds.
CALLER = r"""
import json, socket, sys, threading, time, uuid
from urllib.parse import urlsplit
import django
django.setup()
from tambo.exchange.client import Purpose
from tambo.exchange.registry import registry
from tambo.exchange.signing import Message, sign_request

mode, threads, seconds, prepared = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
query = {"document_type": "dni", "document_number": "40111222"}
purpose = Purpose("MTC-2026-0000001", "RADIOAFICIONADO", "TUO de la Ley 27444, art. 48").__dict__
body = json.dumps({"query": query, "purpose": purpose}, separators=(",", ":")).encode()
node = registry().agency("MDSI").node.rstrip("/")
address = urlsplit(node)
# Each request is kept as the bytes to send: in the timed window a caller only writes them
# to a new connection and reads the answer (gunicorn's sync workers close it after each
# one), so the callers' own cost stays small and equal for both variants.
requests = []
for _ in range(prepared):
    headers = {"content-type": "application/json"}
    if mode == "signed":
        path = "/x/v1/services/licencias-funcionamiento/1"
        message = Message("POST", node + path, {
            **headers,
            "tambo-request-id": str(uuid.uuid4()),
            "tambo-purpose": json.dumps(purpose, separators=(",", ":")),
        })
        sign_request(message, body, "MTC")
        headers = dict(message.headers)
    else:
        path = "/bench/x/licencias-funcionamiento/1"
    head = [f"POST {path} HTTP/1.1", f"Host: {address.netloc}", f"Content-Length: {len(body)}",
            "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
    requests.append(("\r\n".join(head) + "\r\n\r\n").encode() + body)
print("ready", flush=True)
sys.stdin.readline()
done, errors, lock, position = [0], [0], threading.Lock(), [0]
exhausted = [False]
stop = time.monotonic() + seconds
def exchange(raw):
    with socket.create_connection((address.hostname, address.port), timeout=30) as conn:
        conn.sendall(raw)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    head = answer.split(b"\r\n\r\n", 1)[0].lower()
    return head.startswith(b"http/1.1 200 ") and (mode != "signed" or b"\r\nsignature:" in head)
def work():
    while time.monotonic() < stop:
        with lock:
            if position[0] >= len(requests):
                exhausted[0] = True
                return
            raw = requests[position[0]]
            position[0] += 1
        try:
            ok = exchange(raw)
        except OSError:
            ok = False
        with lock:
            if ok:
                done[0] += 1
            else:
                errors[0] += 1
started, cpu_started = time.monotonic(), time.process_time()
pool = [threading.Thread(target=work) for _ in range(threads)]
for t in pool: t.start()
for t in pool: t.join()
print(json.dumps({"done": done[0], "errors": errors[0], "seconds": time.monotonic() - started,
                  "cpu": time.process_time() - cpu_started, "exhausted": exhausted[0]}), flush=True)
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
            # Persistent connections for the whole run (production recycles them every 60 s):
            # a backend that exits mid-window takes its CPU count with it, so the provider's
            # CPU per answer could not be counted.
            TAMBO_DB_CONN_MAX_AGE="3600",
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


def report(latencies: list[float], signed: dict, unsigned: dict, args: argparse.Namespace) -> str:
    from common import percentile

    latencies = sorted(latencies)
    p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
    overhead = 1 - signed["rps"] / unsigned["rps"]
    per_round = sorted(
        1 - s["done"] / s["window"] / (u["done"] / u["window"])
        for s, u in zip(signed["windows"], unsigned["windows"], strict=True)
    )
    cpu_overhead = 1 - unsigned["cpu_ms"] / signed["cpu_ms"]
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
            f"Provider, {args.processes * args.threads} callers, signed",
            f"{signed['rps']:.0f} req/s ({signed['errors']} errors)",
            "",
            "",
        ),
        (
            f"Provider, {args.processes * args.threads} callers, same endpoint without the protocol",
            f"{unsigned['rps']:.0f} req/s ({unsigned['errors']} errors)",
            "",
            "",
        ),
        (
            "Cost of the protocol (1 - signed/unsigned)",
            f"{overhead:.0%}",
            f"<= {OVERHEAD_TARGET:.0%}",
            "PASS" if overhead <= OVERHEAD_TARGET else "FAIL",
        ),
        (
            "Cost of the protocol in each round (a signed and an unsigned window side by side), "
            "lowest to highest",
            ", ".join(f"{x:.0%}" for x in per_round),
            "",
            "info",
        ),
        (
            "Provider CPU per answer (gunicorn + PostgreSQL), signed / without the protocol",
            f"{signed['cpu_ms']:.2f} ms / {unsigned['cpu_ms']:.2f} ms "
            f"(the protocol's share: {cpu_overhead:.0%})",
            "",
            "info",
        ),
        (
            "of which PostgreSQL backends, signed / without the protocol",
            f"{signed['database_cpu_ms']:.2f} ms / {unsigned['database_cpu_ms']:.2f} ms",
            "",
            "info",
        ),
        (
            "Callers' CPU per answer, signed / without the protocol",
            f"{signed['caller_cpu_ms']:.2f} ms / {unsigned['caller_cpu_ms']:.2f} ms",
            "",
            "info",
        ),
    ]
    warnings = [
        f"WARNING: the {name} callers ran out of prepared requests; raise --prepared."
        for name, result in (("signed", signed), ("unsigned", unsigned))
        if result["exhausted"]
    ]
    lines = [
        "## Exchange between two nodes (bench/bench_exchange.py)",
        "",
        f"MDSI's node: gunicorn, {args.workers} workers, production settings, PostgreSQL. "
        f"Latency: {args.calls} sequential calls of `obtain()` from MTC's node on loopback "
        "(sign, send, verify the signed answer and its schema, log). Throughput: "
        f"{args.processes} processes x {args.threads} threads, {args.rounds} windows of "
        f"{args.seconds:.0f} s each way, alternated, requests signed before the timed "
        "window (the callers only send and read), the "
        "unsigned twin doing the same work without signatures, nonce, access rule, message "
        "log and audit entries.",
        "",
        "| Figure | Value | Target | Result |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        *(["", *warnings] if warnings else []),
    ]
    return "\n".join(lines) + "\n"


# The holder the calls ask about: an approved MDSI licence, so both variants do the same
# handler work and write the citizen's access record.
MAKE_HOLDER = """
import io
from django.utils import timezone
from tambo.cases import actions
from tambo.cases.models import Filing
from tambo.catalog.queries import get_procedure
from tambo.demo.samples import MINIMAL_PDF, file_fields, sample_answers
from tambo.identity.models import User
holder = User.objects.create(username="bodega", document_type="dni", document_number="40111222")
proc = get_procedure("MDSI", "LF-RIESGO-BAJO")
draft = actions.start_draft(holder, proc.current_version)
actions.save_answers(holder, draft.pk, sample_answers(proc.current_version.file))
for field in file_fields(proc.current_version.file):
    actions.attach_document(holder, draft.pk, field.name, io.BytesIO(MINIMAL_PDF), "l.pdf")
filing = actions.submit_draft(holder, draft.pk).filing
Filing.objects.filter(pk=filing.pk).update(status="approved", decided_at=timezone.now())
"""


def _provider_ticks(provider: Node) -> tuple[int, int]:
    """CPU ticks used so far by the provider's gunicorn (master and workers) and by the
    PostgreSQL backends of its database: the work a request costs the provider's machine.
    (PostgreSQL's shared processes — WAL writer, checkpointer, autovacuum — are not counted.)"""
    table = _proc_table()
    web = _descendants(table, provider.proc.pid) if provider.proc else set()
    with _admin() as conn:
        database = {
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (DATABASES["MDSI"],)
            )
        }
    return (
        sum(table[pid][1] for pid in web if pid in table),
        sum(table[pid][1] for pid in database - web if pid in table),
    )


def throughput(consumer: Node, provider: Node, mode: str, args: argparse.Namespace) -> dict:
    """Start the calling processes, wait until each has prepared its requests, let them go;
    count the answers and the CPU the provider's node used for them."""
    callers = [
        subprocess.Popen(
            [
                str(PYTHON),
                "-c",
                CALLER,
                mode,
                str(args.threads),
                str(args.seconds),
                str(args.prepared),
            ],
            env=consumer.env,
            cwd=PROJECT_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(args.processes)
    ]
    try:
        for caller in callers:
            line = caller.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"a {mode} caller did not start: {line!r}")
        ticks = _provider_ticks(provider)
        for caller in callers:
            caller.stdin.write("go\n")
            caller.stdin.flush()
        results = [
            json.loads(caller.communicate(timeout=args.seconds + 120)[0]) for caller in callers
        ]
        after = _provider_ticks(provider)
        web_ticks, database_ticks = after[0] - ticks[0], after[1] - ticks[1]
    finally:
        for caller in callers:
            if caller.poll() is None:
                caller.kill()
    window = max(r["seconds"] for r in results)
    return {
        "done": sum(r["done"] for r in results),
        "window": window,
        "ticks": web_ticks + database_ticks,
        "database_ticks": database_ticks,
        "caller_cpu": sum(r["cpu"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "exhausted": any(r["exhausted"] for r in results),
    }


def _combined(windows: list[dict]) -> dict:
    """The rounds of one variant together: throughput over all its windows, CPU per answer."""
    done = sum(w["done"] for w in windows)
    return {
        "rps": done / sum(w["window"] for w in windows),
        "cpu_ms": sum(w["ticks"] for w in windows) / CLOCK_TICKS * 1000 / max(1, done),
        "database_cpu_ms": sum(w["database_ticks"] for w in windows)
        / CLOCK_TICKS
        * 1000
        / max(1, done),
        "caller_cpu_ms": sum(w["caller_cpu"] for w in windows) * 1000 / max(1, done),
        "errors": sum(w["errors"] for w in windows),
        "exhausted": any(w["exhausted"] for w in windows),
        "windows": windows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each window")
    parser.add_argument(
        "--rounds", type=int, default=8, help="windows per variant, alternated (S U, U S, ...)"
    )
    parser.add_argument("--processes", type=int, default=4, help="calling processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per calling process")
    parser.add_argument(
        "--prepared", type=int, default=4000, help="requests each calling process prepares"
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers of the provider")
    parser.add_argument(
        "--databases",
        default="tambo_bench_x",
        help="prefix of the two throwaway databases (<prefix>a for MDSI, <prefix>b for MTC)",
    )
    args = parser.parse_args()
    DATABASES.update(MDSI=f"{args.databases}a", MTC=f"{args.databases}b")
    with tempfile.TemporaryDirectory(prefix="tambo-bench-exchange-") as tmp:
        root = Path(tmp)
        agencies = root / "agencies.yaml"
        provider, consumer = Node("MDSI", root, agencies), Node("MTC", root, agencies)
        try:
            provider.prepare()
            consumer.prepare()
            provider.tambo("shell", "-c", MAKE_HOLDER)
            provider.serve(workers=args.workers)
            done = subprocess.run(
                [str(PYTHON), "-c", LATENCY, str(args.calls)],
                env=consumer.env,
                cwd=PROJECT_DIR,
                check=True,
                capture_output=True,
                text=True,
            )
            latencies = json.loads(done.stdout.strip().splitlines()[-1])["latencies"]
            # Alternate the variants (S U, U S, ...) so that drift on the machine (other
            # load, caches, autovacuum) falls on both alike.
            windows: dict[str, list[dict]] = {"signed": [], "unsigned": []}
            for round_number in range(args.rounds):
                order = ("signed", "unsigned") if round_number % 2 == 0 else ("unsigned", "signed")
                for mode in order:
                    windows[mode].append(throughput(consumer, provider, mode, args))
            signed, unsigned = _combined(windows["signed"]), _combined(windows["unsigned"])
        finally:
            provider.stop()
            for name in DATABASES.values():
                _drop(name)
    text = report(latencies, signed, unsigned, args)
    out = BENCH_DIR / "out"
    out.mkdir(exist_ok=True)
    (out / "exchange.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
