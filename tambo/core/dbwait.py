"""A bound on how long Tambo waits for PostgreSQL to answer, whatever the network does.

The connect timeout bounds opening a connection and ``statement_timeout`` makes the server
cancel a slow statement, but neither helps when the server (or anything between) stops
answering on a connection that is already open: a frozen server, a middlebox that stopped
forwarding, a proxy stuck mid-stream. The kernel on the far side still acknowledges what is
sent, so TCP keepalives and ``tcp_user_timeout`` see nothing wrong, and a request would wait
until gunicorn kills its worker — a dropped connection instead of a clear 503.

So every wait of a PostgreSQL connection for the server (each statement, fetch, COMMIT,
ROLLBACK and the health check's ``SELECT 1``) is bounded by ``TAMBO_DB_ANSWER_TIMEOUT_MS``
(by default the statement timeout plus 2 s, so a slow statement is still ended by the server
first, with its own error). When the bound passes, the connection is closed — its protocol
state is unknown — and the wait raises ``OperationalError``: the request answers 503
(tambo.core.health) and the next one opens a fresh connection. Whether a COMMIT that got no
answer took effect is unknown to the client, which is why filings carry an Idempotency-Key.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper


def bound_new_connection(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created`` receiver: bound the waits of a new PostgreSQL connection."""
    limit_ms = getattr(settings, "TAMBO_DB_ANSWER_TIMEOUT_MS", 0)
    if connection.vendor == "postgresql" and limit_ms > 0:
        bound_waits(connection.connection, limit_ms / 1000)


def bound_waits(pg: Any, limit: float) -> None:
    """Make each ``wait`` of the psycopg connection ``pg`` give up after ``limit`` seconds.

    psycopg routes every exchange with the server through ``Connection.wait(gen, interval,
    timeout)``; the instance attribute set here passes a timeout to it when none is given.
    """
    import psycopg

    unbounded = pg.wait

    def wait(gen: Any, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        started = time.monotonic()
        bounded = limit if timeout is None else min(timeout, limit)
        try:
            return unbounded(gen, *args, timeout=bounded, **kwargs)
        except psycopg.OperationalError as exc:
            if time.monotonic() - started < bounded:
                raise  # the server answered with an error, or the connection broke
            pg.close()
            raise psycopg.OperationalError(
                f"the database did not answer within {bounded:g} s; connection closed"
            ) from exc

    pg.wait = wait
