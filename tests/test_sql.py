"""The hot-path cursors (core/sql.bound_cursor): their statements are prepared on PostgreSQL
after TAMBO_DB_PREPARE_THRESHOLD runs, never with 0, and Django's own cursors never are."""

from __future__ import annotations

import pytest
from django.db import connection

from tambo.core.sql import bound_cursor

pytestmark = pytest.mark.django_db


def needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no server-side prepared statements")


def _prepared(marker: str) -> list[tuple[str, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s",
            [f"%{marker}%"],
        )
        return cursor.fetchall()


def _run(sql: str, times: int) -> None:
    for value in range(times):
        with bound_cursor() as cursor:
            cursor.execute(sql, [value])
            assert cursor.fetchone() == (value + 1,)


def test_a_bound_statement_is_prepared_after_the_threshold(settings):
    needs_postgresql()
    settings.TAMBO_DB_PREPARE_THRESHOLD = 3
    sql = "SELECT CAST(%s AS integer) + 1 AS prepared_marker_a"
    _run(sql, 3)
    assert _prepared("prepared_marker_a") == []  # run as often as the threshold: not yet
    _run(sql, 3)
    ((statement, plans_used),) = _prepared("prepared_marker_a")
    assert "$1" in statement  # bound server-side, prepared at its fourth run
    assert plans_used == 3


def test_with_a_threshold_of_zero_nothing_is_prepared(settings):
    needs_postgresql()
    settings.TAMBO_DB_PREPARE_THRESHOLD = 0
    _run("SELECT CAST(%s AS integer) + 1 AS prepared_marker_b", 8)
    assert _prepared("prepared_marker_b") == []


def test_djangos_own_cursors_are_never_prepared(settings):
    needs_postgresql()
    settings.TAMBO_DB_PREPARE_THRESHOLD = 1
    _run("SELECT CAST(%s AS integer) + 1 AS prepared_marker_c", 2)  # prepared at its 2nd run
    for value in range(6):
        with connection.cursor() as cursor:
            cursor.execute("SELECT CAST(%s AS integer) + 1 AS prepared_marker_d", [value])
    assert _prepared("prepared_marker_d") == []
    assert len(_prepared("prepared_marker_c")) == 1
