"""A small TCP fault proxy for the fault tests: put it between Tambo and PostgreSQL.

Tambo connects to the proxy's port; the proxy forwards each connection to the real server
and, on command, misbehaves the way networks and stuck servers do:

- ``passing()``: bytes flow both ways untouched;
- ``latency(seconds)``: every chunk is delivered ``seconds`` late, in each direction (so a
  query's round trip costs twice that);
- ``reset()``: every open connection is torn down with a TCP reset (RST), and each new one is
  reset as soon as it is accepted, until the proxy passes traffic again;
- ``blackhole()``: connections are accepted (the kernel acknowledges what is sent) but nothing
  is forwarded and nothing comes back, like a frozen server or a middlebox that stopped
  forwarding — the case where only the client's own timeouts can end a wait. When the proxy
  passes traffic again, what was held flows on, as TCP retransmission would deliver it.

One thread per connection, standard library only; it is test tooling, not production code.
"""

from __future__ import annotations

import collections
import contextlib
import select
import socket
import struct
import threading
import time


class FaultProxy:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.mode = "pass"
        self.delay = 0.0
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(256)
        self.port: int = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._generation = 0  # bumped by reset(): links of an older generation reset themselves
        self._lock = threading.Lock()
        self.accepted = 0
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    # Commands -------------------------------------------------------------------------------

    def passing(self) -> None:
        self.delay, self.mode = 0.0, "pass"

    def latency(self, seconds: float) -> None:
        self.delay, self.mode = seconds, "pass"

    def reset(self) -> None:
        with self._lock:
            self._generation += 1
        self.mode = "reset"

    def blackhole(self) -> None:
        self.mode = "blackhole"

    def close(self) -> None:
        self._closed.set()
        self.reset()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._acceptor.join(timeout=5)

    # Forwarding -----------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                ready, _w, _x = select.select([self._listener], [], [], 0.1)
                if not ready:
                    continue
                client, _address = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self.mode == "reset":
                _abort(client)
                continue
            with self._lock:
                generation = self._generation
            threading.Thread(target=self._link, args=(client, generation), daemon=True).start()

    def _link(self, client: socket.socket, generation: int) -> None:
        """Carry one connection until either side closes or the proxy resets it."""
        upstream: socket.socket | None = None
        # Bytes read from one side, waiting to be written to the other: (due time, data).
        to_upstream: collections.deque[tuple[float, bytes]] = collections.deque()
        to_client: collections.deque[tuple[float, bytes]] = collections.deque()
        try:
            while True:
                if self._generation != generation or self._closed.is_set():
                    return  # reset: the finally clause aborts both sides
                holding = self.mode == "blackhole"
                if upstream is None and not holding:
                    upstream = socket.create_connection(self.upstream, timeout=5)
                    upstream.setblocking(True)
                readable = [] if holding else [s for s in (client, upstream) if s is not None]
                ready, _w, _x = select.select(readable, [], [], 0.02)
                now = time.monotonic()
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        self._flush(to_upstream, upstream, to_client, client, force=True)
                        return
                    queue = to_upstream if sock is client else to_client
                    queue.append((now + self.delay, data))
                if not holding:
                    self._flush(to_upstream, upstream, to_client, client, force=False)
                if holding and not ready:
                    time.sleep(0.02)
        except OSError:
            return
        finally:
            if self._generation != generation or self._closed.is_set():
                _abort(client)
                if upstream is not None:
                    _abort(upstream)
            else:
                for sock in (client, upstream):
                    if sock is not None:
                        with contextlib.suppress(OSError):
                            sock.close()

    @staticmethod
    def _flush(
        to_upstream: collections.deque[tuple[float, bytes]],
        upstream: socket.socket | None,
        to_client: collections.deque[tuple[float, bytes]],
        client: socket.socket,
        *,
        force: bool,
    ) -> None:
        now = time.monotonic()
        for queue, target in ((to_upstream, upstream), (to_client, client)):
            while queue and target is not None and (force or queue[0][0] <= now):
                target.sendall(queue.popleft()[1])


def _abort(sock: socket.socket) -> None:
    """Close with a TCP reset (RST) instead of an orderly FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
