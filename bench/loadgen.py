"""A closed-loop HTTP load generator: P processes x T threads, one client per thread.

Each client owns one ``http.client.HTTPConnection`` for the whole run (kept across
phases; it reconnects by itself when the server closes the connection, as gunicorn's
sync workers do after every response) and, for authenticated phases, its own token.
A phase has a warm-up (requests not recorded) and a measured window; a request counts
in the window when it *completes* inside it. Every loop is bounded in time and count.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import multiprocessing as mp
import queue
import threading
import time
import uuid
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from common import CpuSampler, WaitSampler, percentile

MAX_REQUESTS_PER_CLIENT = 200_000  # hard bound on a client's loop, whatever the duration
SOCKET_TIMEOUT = 30.0
START_DELAY = 0.5  # seconds between sending a phase and its common start instant


@dataclass(frozen=True)
class Phase:
    name: str
    method: str
    paths: tuple[str, ...]  # each client rotates through them, starting at its own offset
    kind: str  # "filing" (JSON body + token + Idempotency-Key), "insert" (JSON body), "get"
    warmup: float
    duration: float
    # 0: closed loop (each client sends its next request as soon as the last one is
    # answered). > 0: paced: each client sends on a fixed schedule, one request every
    # ``interval`` seconds, and a latency counts from the scheduled instant, so a slow answer
    # that delays the next request is charged to it (no coordinated omission).
    interval: float = 0.0


@dataclass
class PhaseResult:
    name: str
    duration: float
    latencies_ms: list[float] = field(default_factory=list)  # 2xx only, sorted
    statuses: Counter = field(default_factory=Counter)
    exceptions: Counter = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    client_cpu_s: float = 0.0
    machine_busy: float = 0.0
    bench_cores: float = 0.0  # server + its PostgreSQL backends + load generator
    other_cores: float = 0.0  # every other process on the machine
    server_cores: float = 0.0  # gunicorn
    postgres_cores: float = 0.0  # PostgreSQL backends of the bench database
    backend_states: dict[str, float] = field(default_factory=dict)  # avg backends per state
    requests_total: int = 0  # every completed request in the window, errors included

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    @property
    def errors(self) -> int:
        return self.requests_total - self.ok

    @property
    def rps(self) -> float:
        return self.ok / self.duration if self.duration else 0.0

    def cpu_ms_per_request(self, cores: float) -> float:
        return cores * self.duration * 1000 / self.ok if self.ok else float("nan")

    def pct(self, p: float) -> float:
        return percentile(self.latencies_ms, p)


def _client_loop(
    conn: http.client.HTTPConnection,
    phase: Phase,
    start_at: float,
    token: str,
    filing_body: dict[str, Any],
    client_id: str,
    out: dict[str, Any],
) -> None:
    measure_from = start_at + phase.warmup
    end = measure_from + phase.duration
    nonce = uuid.uuid4().hex[:10]
    latencies: list[float] = []
    statuses: Counter = Counter()
    exceptions: Counter = Counter()
    samples: list[str] = []
    n_paths = len(phase.paths)
    offset = zlib.crc32(client_id.encode()) % n_paths
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)
    # Paced clients start spread over one interval, so the total rate is smooth.
    first_at = start_at + (offset_fraction(client_id) * phase.interval)
    for seq in range(MAX_REQUESTS_PER_CLIENT):
        scheduled = first_at + seq * phase.interval if phase.interval else None
        if scheduled is not None:
            wait = scheduled - time.time()
            if wait > 0:
                time.sleep(wait)
        if time.time() >= end:
            break
        path = phase.paths[(offset + seq) % n_paths]
        headers = {"Host": "127.0.0.1"}
        body: bytes | None = None
        if phase.kind == "filing":
            body = json.dumps(filing_body).encode()
            headers["Content-Type"] = "application/json"
            headers["Authorization"] = f"Bearer {token}"
            headers["Idempotency-Key"] = f"{nonce}-{client_id}-{seq}"
        elif phase.kind == "insert":
            body = json.dumps({"client": client_id, "seq": seq}).encode()
            headers["Content-Type"] = "application/json"
        status: int | None = None
        failure = ""
        data = b""
        t0 = time.perf_counter()
        try:
            conn.request(phase.method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            failure = type(exc).__name__
            conn.close()
        elapsed_ms = (time.perf_counter() - t0) * 1000
        done = time.time()
        if scheduled is not None:
            elapsed_ms = max(elapsed_ms, (done - scheduled) * 1000)
        if not (measure_from <= done < end):
            continue
        if status is None:
            exceptions[failure] += 1
            continue
        statuses[status] += 1
        if 200 <= status < 300:
            latencies.append(elapsed_ms)
        elif len(samples) < 3:
            samples.append(f"{status} {path}: {data[:300].decode('utf-8', 'replace')}")
    out["latencies"] = latencies
    out["statuses"] = statuses
    out["exceptions"] = exceptions
    out["samples"] = samples


def offset_fraction(client_id: str) -> float:
    """A fixed fraction in [0, 1) per client: where in the interval its schedule starts."""
    return (zlib.crc32(client_id.encode()) % 1000) / 1000


def client_process(
    host: str,
    port: int,
    tokens: list[str],
    filing_body: dict[str, Any],
    proc_index: int,
    commands: mp.Queue,
    results: mp.Queue,
) -> None:
    """One load-generator process: len(tokens) clients, running phases on command."""
    conns = [http.client.HTTPConnection(host, port, timeout=SOCKET_TIMEOUT) for _ in tokens]
    try:
        while True:
            command = commands.get(timeout=900)
            if command is None:
                return
            phase_dict, start_at = command
            phase = Phase(**phase_dict)
            outs: list[dict[str, Any]] = [{} for _ in tokens]
            cpu0 = time.process_time()
            threads = [
                threading.Thread(
                    target=_client_loop,
                    args=(
                        conns[i],
                        phase,
                        start_at,
                        tokens[i],
                        filing_body,
                        f"p{proc_index}t{i}",
                        outs[i],
                    ),
                    daemon=True,
                )
                for i in range(len(tokens))
            ]
            for t in threads:
                t.start()
            # Bounded: the window plus the socket timeout, then whatever finished.
            deadline = start_at + phase.warmup + phase.duration + SOCKET_TIMEOUT + 5
            for t in threads:
                t.join(max(0.0, deadline - time.time()))
            # CPU of the whole process is only meaningful for the measured share; the
            # warm-up is a small part of it and is accounted in proportion.
            cpu = time.process_time() - cpu0
            cpu_window = cpu * phase.duration / (phase.warmup + phase.duration)
            merged: dict[str, Any] = {
                "latencies": [],
                "statuses": Counter(),
                "exceptions": Counter(),
                "samples": [],
                "cpu": cpu_window,
            }
            for out in outs:
                merged["latencies"].extend(out.get("latencies", []))
                merged["statuses"].update(out.get("statuses", {}))
                merged["exceptions"].update(out.get("exceptions", {}))
                merged["samples"].extend(out.get("samples", [])[:1])
                if not out:
                    merged["exceptions"]["client_thread_timeout"] += 1
            results.put((proc_index, merged))
    finally:
        for conn in conns:
            conn.close()


class LoadGenerator:
    """Starts ``processes`` x ``threads`` clients once and runs phases with them."""

    def __init__(
        self,
        host: str,
        port: int,
        tokens: list[str],
        filing_body: dict[str, Any],
        processes: int,
        threads: int,
        sample_waits: bool = True,
    ) -> None:
        self.sample_waits = sample_waits
        if processes * threads > len(tokens):
            raise ValueError("one token per client is needed")
        self.processes = processes
        self.threads = threads
        ctx = mp.get_context("spawn")
        self.results: mp.Queue = ctx.Queue()
        self.commands: list[mp.Queue] = []
        self.procs = []
        for p in range(processes):
            q: mp.Queue = ctx.Queue()
            slice_ = tokens[p * threads : (p + 1) * threads]
            proc = ctx.Process(
                target=client_process,
                args=(host, port, slice_, filing_body, p, q, self.results),
                daemon=True,
            )
            proc.start()
            self.commands.append(q)
            self.procs.append(proc)

    @property
    def label(self) -> str:
        return (
            f"{self.processes} process{'es' if self.processes > 1 else ''} x {self.threads} threads"
        )

    def run(self, phase: Phase) -> PhaseResult:
        start_at = time.time() + START_DELAY + 0.2 * self.processes
        for q in self.commands:
            q.put((asdict(phase), start_at))
        measure_from = start_at + phase.warmup
        end = measure_from + phase.duration
        time.sleep(max(0.0, measure_from - time.time()))
        sampler = CpuSampler()
        waits = WaitSampler() if self.sample_waits else None
        try:
            while waits is not None and time.time() < end - 0.1:
                waits.sample()
                time.sleep(0.1)
        finally:
            if waits is not None:
                waits.close()
        time.sleep(max(0.0, end - time.time()))
        use = sampler.finish()
        result = PhaseResult(
            name=phase.name,
            duration=phase.duration,
            machine_busy=use.machine_busy,
            bench_cores=use.bench_cores,
            other_cores=use.other_cores,
            server_cores=use.server_cores,
            postgres_cores=use.postgres_cores,
            backend_states=waits.summary() if waits is not None else {},
        )
        deadline = end + SOCKET_TIMEOUT + 20
        received = 0
        while received < self.processes:
            try:
                _, merged = self.results.get(timeout=max(1.0, deadline - time.time()))
            except queue.Empty:
                raise RuntimeError(
                    f"load generator did not report for phase {phase.name}"
                ) from None
            received += 1
            result.latencies_ms.extend(merged["latencies"])
            result.statuses.update(merged["statuses"])
            result.exceptions.update(merged["exceptions"])
            result.error_samples.extend(merged["samples"])
            result.client_cpu_s += merged["cpu"]
        result.latencies_ms.sort()
        result.requests_total = sum(result.statuses.values()) + sum(result.exceptions.values())
        return result

    def close(self) -> None:
        for q in self.commands:
            with contextlib.suppress(OSError, ValueError):
                q.put(None)
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)

    def __enter__(self) -> LoadGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
