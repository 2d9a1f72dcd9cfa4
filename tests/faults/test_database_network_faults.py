"""(b') The network between Tambo and PostgreSQL misbehaves: latency, resets, a blackhole.

A fault proxy (tests/faults/proxy.py) sits between gunicorn and the cluster. Under each fault,
with clients filing, listing and browsing:

- latency: a small one still serves every request; one larger than the timeouts answers a
  clear 503 within them (never a hang);
- resets: every request answers 503 quickly, and the service recovers by itself within 5 s
  once the proxy passes traffic again;
- blackhole (accepted, never answered): no request waits beyond the configured bounds (the
  answer timeout of tambo.core.dbwait plus twice the connect timeout, see ANSWER_LIMIT); each
  gets a 503, and the service recovers within 5 s once traffic flows again.

Afterwards every filing is retried with its Idempotency-Key: each exists exactly once (a COMMIT
held by the blackhole may have taken effect after its client got a 503), and the audit chain
verifies.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import pytest

from .harness import Gunicorn, call, tambo
from .load import Load, Sent, first_served
from .proxy import FaultProxy

pytestmark = pytest.mark.faults

CONNECT_TIMEOUT_S = 1
STATEMENT_TIMEOUT_MS = 1500
ANSWER_TIMEOUT_MS = 2500  # tambo.core.dbwait's bound on any wait of an open connection
# The longest a request may take once a fault hits it: one bounded wait on the open connection
# (a statement, the health check or the after-commit audit sealing), after which Django may try
# a new connection twice in the same request (the audit sealing's transaction ending, then what
# the request still reads), each bounded by the connect timeout; plus room for a loaded 2-core
# CI machine.
ANSWER_LIMIT = ANSWER_TIMEOUT_MS / 1000 + 2 * CONNECT_TIMEOUT_S + 3.0
RECOVERY_LIMIT = 5.0
CLIENTS = WORKERS = 3  # one request per worker: no queueing inflates the times measured
# TAMBO_FAULTS_ROUNDS=N repeats each fault N times (each on a fresh database).
ROUNDS = range(int(os.environ.get("TAMBO_FAULTS_ROUNDS", "1")))


@pytest.fixture
def proxied(site, tmp_path) -> Iterator[tuple[FaultProxy, Gunicorn]]:
    proxy = FaultProxy(site.cluster.port)
    env = site.env(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{proxy.port}/{site.database}",
        TAMBO_DB_CONNECT_TIMEOUT=str(CONNECT_TIMEOUT_S),
        TAMBO_DB_STATEMENT_TIMEOUT_MS=str(STATEMENT_TIMEOUT_MS),
        TAMBO_DB_ANSWER_TIMEOUT_MS=str(ANSWER_TIMEOUT_MS),
    )
    server = Gunicorn(env, workers=WORKERS, log=tmp_path / "gunicorn.log")
    try:
        server.start()
        yield proxy, server
    finally:
        server.stop()
        proxy.close()


def run_fault(
    site, server: Gunicorn, proxy: FaultProxy, fault, seconds: float
) -> tuple[Load, float, float, float]:
    """Load for 2 s, the fault for ``seconds``, then traffic again until the service answers."""
    load = Load(server.port, site.tokens, site.plain, CLIENTS, timeout=ANSWER_LIMIT + 15)
    load.start()
    try:
        time.sleep(2)
        fault_at = time.monotonic()
        fault()
        time.sleep(seconds)
        healed_at = time.monotonic()
        proxy.passing()
        return load, fault_at, healed_at, first_served(server.port, site.tokens[0], healed_at) or 0
    finally:
        time.sleep(2)
        load.stop()


def check_answers(load: Load, bound: float, fault_at: float = 0.0) -> dict[int, int]:
    """Every request got an HTTP answer: 2xx, or a clear 503, within ``bound`` seconds.

    A request already running when the fault began is held to ``bound`` from that moment
    (e.g. a filing committed just before, whose after-commit audit sealing then meets the
    fault).
    """
    statuses: dict[int, int] = {}
    for sent in load.sent:
        answer = sent.answer
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
        assert answer.status != 0, (
            f"{sent.kind}: no HTTP answer ({answer.error}) after {answer.seconds:.1f} s"
        )
        assert answer.status in {200, 201, 503}, (
            f"{sent.kind}: {answer.status} {answer.body!r:.300}"
        )
        # Served or refused, no answer may take longer: a 200 after a long wait is a hang too.
        allowed = bound + max(0.0, fault_at - sent.start) if fault_at else bound
        assert answer.seconds <= allowed, (
            f"{sent.kind}: {answer.status} only after {answer.seconds:.1f} s "
            f"(sent {sent.start - fault_at:+.2f} s from the fault)"
        )
        if answer.status == 503:
            assert int(answer.headers.get("Retry-After", "0")) > 0
            if sent.kind == "page":
                assert b"no est" in answer.body
            else:
                assert answer.body["error"]["code"] == "service_unavailable", answer.body
    return statuses


def check_fault_then_recovery(
    load: Load, fault_at: float, healed_at: float, served_at: float
) -> None:
    # Each client sent during the fault; what was answered before traffic flowed again
    # cannot have come from the database.
    met = [s for s in load.sent if fault_at < s.start < healed_at]
    inside = load.between(fault_at, healed_at)
    assert len(met) >= CLIENTS and inside, (
        f"{len(met)} requests sent, {len(inside)} answered in the fault"
    )
    served = [
        f"{s.kind} {s.answer.status} at +{s.start - fault_at:.2f} s"
        for s in inside
        if s.answer.status != 503
    ]
    assert not served, f"answers from a database the proxy cut off: {served}"
    assert served_at, "the service did not recover within 30 s of the proxy passing traffic"
    recovery = served_at - healed_at
    print(f"recovered {recovery:.2f} s after the proxy passed traffic again")
    assert recovery <= RECOVERY_LIMIT, f"recovered only after {recovery:.2f} s"
    after = load.after(served_at + 0.5)
    assert after and all(s.answer.status in {200, 201} for s in after), [
        s.answer.status for s in after
    ]


def check_filings_once(site, sent: list[Sent], tmp_path) -> None:
    """Retry every filing with its key on a server straight to the cluster: each exists once."""
    filings = [s for s in sent if s.kind == "file"]
    server = Gunicorn(site.env(), workers=2, log=tmp_path / "gunicorn-retry.log")
    server.start()
    numbers = {}
    try:
        for s in filings:
            retry = call(
                server.port, "POST", "/api/v1/filings", body=json.dumps(site.plain).encode(),
                headers={"Authorization": f"Bearer {s.token}", "Content-Type": "application/json",
                         "Idempotency-Key": s.key or ""},
            )  # fmt: skip
            assert retry.status in {200, 201}, retry
            if s.answer.status in {200, 201}:
                assert retry.status == 200 and retry.body["number"] == s.answer.body["number"]
            numbers[s.key] = retry.body["number"]
    finally:
        server.stop()
    assert len(set(numbers.values())) == len(filings), "two keys share one expediente"
    count = int(site.cluster.sql("SELECT count(*) FROM cases_filing", site.database))
    assert count == len(filings), f"{count} expedientes for {len(filings)} distinct keys"
    tambo(site.env(), "audit", "verify")


@pytest.mark.parametrize("round_", ROUNDS)
def test_latency_small_serves_large_answers_503_within_the_timeouts(
    site, proxied, tmp_path, round_
):
    proxy, server = proxied
    proxy.latency(0.01)  # 20 ms per round trip: slower, still served
    load = Load(server.port, site.tokens, site.plain, CLIENTS, timeout=ANSWER_LIMIT + 15)
    load.start()
    time.sleep(3)
    load.stop()
    before = load.sent
    slow = check_answers(load, ANSWER_LIMIT)
    assert slow.keys() <= {200, 201}, slow
    assert sum(slow.values()) >= 6, slow

    # 3 s each way: no statement and no connection can complete within the timeouts.
    load, fault_at, healed_at, served_at = run_fault(
        site, server, proxy, lambda: proxy.latency(3.0), 10
    )
    statuses = check_answers(load, ANSWER_LIMIT, fault_at)
    print(f"\nlatency: {slow} at 10 ms; {statuses} at 3 s")
    check_fault_then_recovery(load, fault_at, healed_at, served_at)
    check_filings_once(site, before + load.sent, tmp_path)


@pytest.mark.parametrize("round_", ROUNDS)
def test_resets_answer_503_then_the_service_recovers(site, proxied, tmp_path, round_):
    proxy, server = proxied
    load, fault_at, healed_at, served_at = run_fault(site, server, proxy, proxy.reset, 3)
    statuses = check_answers(load, ANSWER_LIMIT, fault_at)
    inside = load.between(fault_at, healed_at)
    slowest = max(s.answer.seconds for s in inside)
    print(f"\nresets: {statuses}; slowest answer inside the fault {slowest:.2f} s")
    assert slowest <= CONNECT_TIMEOUT_S + 1.5, "a reset must fail fast, not wait for a timeout"
    check_fault_then_recovery(load, fault_at, healed_at, served_at)
    check_filings_once(site, load.sent, tmp_path)


@pytest.mark.parametrize("round_", ROUNDS)
def test_blackhole_never_hangs_a_request_and_the_service_recovers(site, proxied, tmp_path, round_):
    proxy, server = proxied
    load, fault_at, healed_at, served_at = run_fault(site, server, proxy, proxy.blackhole, 8)
    statuses = check_answers(load, ANSWER_LIMIT, fault_at)
    print(f"\nblackhole: {statuses}")
    check_fault_then_recovery(load, fault_at, healed_at, served_at)
    check_filings_once(site, load.sent, tmp_path)
