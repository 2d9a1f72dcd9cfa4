"""A database that stops answering on an open connection: each wait is bounded (core/dbwait)."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection

from tambo.core.dbwait import bound_waits

from .faults.proxy import FaultProxy

pytestmark = pytest.mark.django_db


def needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no server to stop answering")


def test_every_new_connection_gets_the_bounded_wait(settings):
    needs_postgresql()
    assert settings.TAMBO_DB_ANSWER_TIMEOUT_MS > 0
    connection.close()
    connection.ensure_connection()
    assert "bound_waits" in connection.connection.wait.__qualname__


def test_a_blackholed_connection_gives_up_at_the_bound_and_is_closed():
    needs_postgresql()
    params = connection.get_connection_params()
    proxy = FaultProxy(int(params.get("port") or 5432), params.get("host") or "127.0.0.1")
    try:
        params.update(host="127.0.0.1", port=proxy.port, autocommit=True)
        params.pop("cursor_factory", None)
        pg = psycopg.connect(**params)
        bound_waits(pg, 0.5)
        assert pg.execute("SELECT 1").fetchone() == (1,)
        proxy.blackhole()  # the kernel still acknowledges: keepalives see nothing wrong
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError, match=r"did not answer within 0\.5 s"):
            pg.execute("SELECT 2")
        assert 0.4 < time.monotonic() - started < 3
        assert pg.closed  # its protocol state is unknown: never reused
    finally:
        proxy.close()


def test_a_server_error_within_the_bound_is_raised_as_it_is():
    needs_postgresql()
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    with psycopg.connect(**params, autocommit=True) as pg:
        bound_waits(pg, 5)
        with pytest.raises(psycopg.errors.DivisionByZero):
            pg.execute("SELECT 1 / 0")
        assert not pg.closed
        assert pg.execute("SELECT 3").fetchone() == (3,)
