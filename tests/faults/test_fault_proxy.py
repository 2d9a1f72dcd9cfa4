"""The fault proxy itself, against a tiny echo server (no database, a second or two)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from .proxy import FaultProxy

pytestmark = pytest.mark.faults


@pytest.fixture
def echo_port() -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(4096):
                conn.sendall(data)

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _a = listener.accept()
                threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture
def proxy(echo_port: int) -> Iterator[FaultProxy]:
    proxy = FaultProxy(echo_port)
    yield proxy
    proxy.close()


def round_trip(sock: socket.socket, payload: bytes = b"ping") -> tuple[bytes, float]:
    started = time.monotonic()
    sock.sendall(payload)
    return sock.recv(4096), time.monotonic() - started


def test_passing_forwards_both_ways(proxy):
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as sock:
        assert round_trip(sock)[0] == b"ping"


def test_latency_delays_each_direction(proxy):
    proxy.latency(0.15)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as sock:
        data, seconds = round_trip(sock)
    assert data == b"ping"
    assert 0.3 <= seconds < 1.5, seconds


def test_reset_tears_down_open_and_new_connections_then_passing_recovers(proxy):
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
    assert round_trip(sock)[0] == b"ping"
    proxy.reset()
    time.sleep(0.2)
    with pytest.raises((ConnectionResetError, BrokenPipeError)):
        sock.sendall(b"again")
        if not sock.recv(4096):  # an orderly close would be a FIN, not the reset asked for
            raise AssertionError("closed with FIN, not RST")
    sock.close()
    # A new connection is reset as soon as it is accepted (connect itself may see the RST).
    with pytest.raises((ConnectionResetError, BrokenPipeError)):
        fresh = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        try:
            time.sleep(0.2)
            fresh.sendall(b"x")
            fresh.recv(4096)
        finally:
            fresh.close()
    proxy.passing()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as sock:
        assert round_trip(sock)[0] == b"ping"


def test_blackhole_accepts_and_never_answers_until_passing_again(proxy):
    open_before = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
    assert round_trip(open_before)[0] == b"ping"
    proxy.blackhole()
    time.sleep(0.1)
    fresh = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)  # accepted
    for sock in (open_before, fresh):
        sock.settimeout(0.5)
        sock.sendall(b"held")  # acknowledged by the kernel, never answered
        with pytest.raises(TimeoutError):
            sock.recv(4096)
    proxy.passing()
    for sock in (open_before, fresh):
        sock.settimeout(2)
        assert sock.recv(4096) == b"held"  # what was held flows on, as TCP would deliver it
        sock.close()
