"""Who a personal API token (``Authorization: Bearer tmb_...``) belongs to."""

from __future__ import annotations

from functools import cache

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
    return next(iter(User.objects.raw(_lookup_sql(), [ApiToken.hash(raw_token)])), None)
