"""Client load for the fault tests: a few threads filing, listing and browsing, each answer kept.

Every request is one of three kinds (a filing with its own Idempotency-Key, the citizen's
list, the public catalogue page); each answer is kept with when it was sent and answered, so
a test can ask what happened inside a fault window and retry the filings afterwards.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass

from .harness import Answer, call


@dataclass
class Sent:
    start: float
    end: float
    kind: str  # "file", "list", "page"
    answer: Answer
    token: str
    key: str | None  # the filing's Idempotency-Key


class Load:
    def __init__(self, port: int, tokens: list[str], filing: dict, clients: int, timeout: float):
        self.port, self.tokens, self.filing = port, tokens, filing
        self.clients, self.timeout = clients, timeout
        self.sent: list[Sent] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._client, args=(n,), daemon=True)
            for n in range(self.clients)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 10)
        assert not any(t.is_alive() for t in self._threads), "a client is still waiting"

    def _client(self, n: int) -> None:
        token = self.tokens[n % len(self.tokens)]
        auth = {"Authorization": f"Bearer {token}"}
        i = n
        while not self._stop.is_set():
            i += 1
            start, key = time.monotonic(), None
            if i % 3 == 0:
                key, kind = str(uuid.uuid4()), "file"
                answer = call(
                    self.port, "POST", "/api/v1/filings", body=json.dumps(self.filing).encode(),
                    headers={**auth, "Content-Type": "application/json", "Idempotency-Key": key},
                    timeout=self.timeout,
                )  # fmt: skip
            elif i % 3 == 1:
                kind = "list"
                answer = call(
                    self.port, "GET", "/api/v1/filings", headers=auth, timeout=self.timeout
                )
            else:
                kind = "page"
                answer = call(self.port, "GET", "/tramites/", timeout=self.timeout)
            with self._lock:
                self.sent.append(Sent(start, time.monotonic(), kind, answer, token, key))
            time.sleep(0.05)

    def between(self, start: float, end: float) -> list[Sent]:
        """Requests sent after ``start`` and answered before ``end``."""
        return [s for s in self.sent if start < s.start and s.end < end]

    def after(self, moment: float) -> list[Sent]:
        return [s for s in self.sent if s.start > moment]


def first_served(port: int, token: str, since: float, limit: float = 30) -> float | None:
    """Poll an authenticated database read every 100 ms; when did it first answer 200?"""
    while time.monotonic() - since < limit:
        probe = call(
            port,
            "GET",
            "/api/v1/filings",
            headers={"Authorization": f"Bearer {token}"},
            timeout=limit,
        )
        if probe.status == 200:
            return time.monotonic()
        time.sleep(0.1)
    return None
