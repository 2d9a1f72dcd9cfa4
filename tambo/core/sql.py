"""Cursors for the few hand-written statements on the hot path (filing, token lookup).

Django's PostgreSQL backend binds parameters on the client by default (psycopg's
``ClientCursor``): every value is quoted into the SQL text in Python and PostgreSQL parses
and plans the statement anew each time. For a statement run on every request with dozens of
parameters (a filing's number, expediente and audit entry in one statement) that is a good
share of the request's CPU on both sides. :func:`bound_cursor` sends the parameters
separately (server-side binding), so psycopg adapts them in C and, after a statement has run
``TAMBO_DB_PREPARE_THRESHOLD`` times on a connection, prepares it: PostgreSQL then skips
parsing and planning. (Django turns psycopg's automatic preparation off for every connection;
it is turned back on here, and only these cursors use it: Django's own client-side binding
cursors never prepare. Measured on the exchange's message log statement: 0.9 ms of
PostgreSQL CPU per statement unprepared, bench/RESULTS.md.)

Prepared statements live per database connection; behind PgBouncer in transaction mode they
need PgBouncer >= 1.21 with ``max_prepared_statements`` (docs/operations.md). The global
``server_side_binding`` option is left off: Django documents statements it cannot bind
server-side, and these few statements are the ones that gain.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connections


@contextmanager
def bound_cursor(using: str = "default") -> Iterator[Any]:
    """A Django cursor wrapper (query logging, error translation) with server-side binding."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    import psycopg
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.pq import Format

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        threshold = settings.TAMBO_DB_PREPARE_THRESHOLD or None
        if connection.connection.prepare_threshold != threshold:
            connection.connection.prepare_threshold = threshold
        raw = psycopg.Cursor(connection.connection)
        loader = connection.connection.adapters.get_loader(
            psycopg.postgres.types["timestamptz"].oid, Format.TEXT
        )
        if connection.timezone != loader.timezone:  # as Django's create_cursor does
            register_tzloader(connection.timezone, raw)
    wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    with wrap(raw) as cursor:
        yield cursor
