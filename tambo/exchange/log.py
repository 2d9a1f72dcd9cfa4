"""Writing the exchange log and its audit entries (both sides, same shape)."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction

from tambo.core import audit, clock

from .models import ExchangeLog, SeenNonce


def _first_use(key_id: str, nonce: str) -> bool:
    """Record a nonce in the current transaction; False if it was already used.

    One ``INSERT ... ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite): no savepoint round
    trips; a concurrent insert of the same nonce waits for the other transaction and then
    inserts nothing.
    """
    table = SeenNonce._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key_id, nonce, seen_at) VALUES (%s, %s, %s) "  # noqa: S608 - table name from the model; values are parameters  # nosec B608
            "ON CONFLICT DO NOTHING",
            [key_id[:80], nonce[:80], connection.ops.adapt_datetimefield_value(clock.now())],
        )
        return cursor.rowcount == 1


def write(*, nonce: tuple[str, str] | None = None, **fields: Any) -> ExchangeLog | None:
    """One log entry plus its audit entry, in one transaction.

    With ``nonce`` (key id, nonce of a verified request) the nonce is recorded first in the
    same transaction — one commit per served request instead of two. If it was already used
    (a replay, possibly running at the same moment) nothing is written and None is returned:
    the caller answers ``replayed`` instead.
    """
    with transaction.atomic():
        if nonce is not None and not _first_use(*nonce):
            return None
        entry = ExchangeLog.objects.create(at=clock.now(), **fields)
        audit.record(
            f"exchange.{fields['direction']}.{'ok' if fields['outcome'] == 'ok' else 'refused'}",
            "exchange",
            fields["request_id"],
            agency_code=fields["consumer"] if fields["direction"] == "out" else fields["provider"],
            data={
                "service": f"{fields['service']}/{fields['version']}",
                "consumer": fields["consumer"],
                "provider": fields["provider"],
                "filing": fields.get("filing_number", ""),
                "outcome": fields["outcome"],
            },
        )
    return entry
