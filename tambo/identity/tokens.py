"""Who a personal API token (``Authorization: Bearer tmb_...``) belongs to."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import connections, router
from django.db.models import Field

from tambo.core.sql import bound_cursor

from .models import ApiToken, User


@cache
def _lookup_sql() -> str:
    users, tokens = User._meta.db_table, ApiToken._meta.db_table
    columns = ", ".join(f'u."{field.column}"' for field in User._meta.concrete_fields)
    return (
        f'SELECT {columns} FROM "{users}" u JOIN "{tokens}" t ON t."user_id" = u."id" '  # noqa: S608 - table and column names from the models; the hash is a parameter  # nosec B608
        f'WHERE t."token_hash" = %s AND u."is_active"'
    )


def user_for_token(raw_token: str) -> User | None:
    """The active user holding this token, or None; one indexed query, nothing cached.

    Every API request runs this, so it is written once as SQL instead of being compiled
    by the ORM on each call (that compilation cost more than the query). Nothing is kept
    between requests: a revoked token or a disabled account stops working at once.
    """
    alias = router.db_for_read(User)
    connection = connections[alias]
    with bound_cursor(alias) as cursor:
        cursor.execute(_lookup_sql(), [ApiToken.hash(raw_token)])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, field, converters in _converters(alias):
        for converter in converters:  # e.g. SQLite's text dates and 0/1 booleans
            values[index] = converter(values[index], field, connection)
    # from_db, as the ORM builds instances, without RawQuerySet's per-call column mapping.
    return User.from_db(alias, _field_names(), values)


@cache
def _field_names() -> list[str]:
    return [field.attname for field in User._meta.concrete_fields]


@cache
def _converters(alias: str) -> list[tuple[int, Field, list[Any]]]:
    """The database's value converters per column, as the ORM's compiler applies them."""
    connection = connections[alias]
    found = []
    for index, field in enumerate(User._meta.concrete_fields):
        column = field.get_col(User._meta.db_table)
        converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if converters:
            found.append((index, field, converters))
    return found
