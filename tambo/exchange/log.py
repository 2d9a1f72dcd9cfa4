"""Writing the exchange log and its audit entries (both sides, same shape)."""

from __future__ import annotations

import json
from typing import Any

from django.db import IntegrityError, connection, transaction

from tambo.core import audit, clock
from tambo.privacy import access as access_log
from tambo.privacy.access import AccessRecord

from .models import ExchangeLog, SeenNonce

# The log's columns in the order the PostgreSQL statement writes them (JSON ones cast).
_COLUMNS = (
    "request_id",
    "direction",
    "at",
    "consumer",
    "provider",
    "service",
    "version",
    "filing_number",
    "procedure",
    "legal_basis",
    "subject_document",
    "outcome",
    "http_status",
    "duration_ms",
    "request_headers",
    "request_body",
    "answer_headers",
    "answer_body",
)
_JSON_COLUMNS = {"request_headers", "answer_headers"}
# Each column's default, for a field the caller leaves out (the values go straight into the
# statement: building a model instance per entry only to read them back cost more).
_DEFAULTS = {
    field.name: field.get_default()
    for field in ExchangeLog._meta.concrete_fields
    if field.name in _COLUMNS
}
_NONCE_CONSTRAINT = "unique_nonce"


def write(
    *,
    nonce: tuple[str, str] | None = None,
    access: AccessRecord | None = None,
    **fields: Any,
) -> int | None:
    """One log entry plus its audit entry, all or nothing; returns the entry's id.

    With ``nonce`` (key id, nonce of a verified request) the nonce is recorded with them, so
    the same signed request is never served twice. If it was already used (a replay,
    possibly running at the same moment) nothing is written and None is returned: the caller
    answers ``replayed`` instead. With ``access`` (the citizen's "who read my data" entry for
    the data the answer carries) that entry and its audit entry are written with them too:
    an answer served is in both logs, a refused replay in neither.
    """
    fields.setdefault("at", clock.now())
    if connection.vendor == "postgresql":
        return _write_postgres(nonce, access, fields)
    with transaction.atomic():
        if nonce is not None and not _first_use(*nonce):
            return None
        entry_id = ExchangeLog.objects.create(**fields).pk
        if access is not None:
            access_log.write_in_transaction(access)
        audit.record(
            _action(fields),
            "exchange",
            fields["request_id"],
            agency_code=_agency(fields),
            data=_audit_data(fields),
        )
    return entry_id


def _write_postgres(
    nonce: tuple[str, str] | None, access: AccessRecord | None, fields: dict[str, Any]
) -> int | None:
    """The nonce, the log entry and its audit entry, and the citizen's access entry and its
    audit entry, in one statement (one round trip; outside a transaction, one commit). The
    nonce's unique constraint refuses a replay: the statement fails as a whole, so nothing
    of it is written, and a concurrent use of the same nonce waits for the first one's
    commit before it fails."""
    unknown = fields.keys() - _DEFAULTS.keys()
    if unknown:
        raise TypeError(f"not a column of the exchange log: {sorted(unknown)}")
    values = [fields.get(column, _DEFAULTS[column]) for column in _COLUMNS]
    placeholders = ", ".join(
        "CAST(%s AS jsonb)" if column in _JSON_COLUMNS else "%s" for column in _COLUMNS
    )
    params = [
        json.dumps(value) if column in _JSON_COLUMNS else value
        for column, value in zip(_COLUMNS, values, strict=True)
    ]
    prelude = (
        f"log_entry AS (INSERT INTO {ExchangeLog._meta.db_table} ({', '.join(_COLUMNS)}) "  # noqa: S608 - table and columns from the model; values are parameters  # nosec B608
        f"VALUES ({placeholders}) RETURNING id), "
        "subject AS (SELECT CAST(%s AS text) AS id)"
    )
    params.append(fields["request_id"])
    if access is not None:
        access_sql, access_params = access_log.statement_parts(access)
        prelude = f"{prelude}, {access_sql}"
        params.extend(access_params)
    if nonce is not None:
        prelude = (
            f"seen AS (INSERT INTO {SeenNonce._meta.db_table} (key_id, nonce, seen_at) "  # noqa: S608 - table name from the model; values are parameters  # nosec B608
            f"VALUES (%s, %s, %s)), {prelude}"
        )
        params = [nonce[0][:80], nonce[1][:80], fields["at"], *params]
    try:
        # Inside a caller's transaction a savepoint keeps a refused replay from aborting it.
        with transaction.atomic() if connection.in_atomic_block else _no_block():
            (entry_id,) = audit.record_with_statement(
                prelude,
                params,
                "SELECT id FROM subject",
                "(SELECT id FROM log_entry)",
                _action(fields),
                "exchange",
                agency_code=_agency(fields),
                data=_audit_data(fields),
            )
    except IntegrityError as error:
        if nonce is not None and _violates(error, _NONCE_CONSTRAINT):
            return None
        raise
    return entry_id


class _no_block:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _violates(error: IntegrityError, constraint: str) -> bool:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) == constraint


def _first_use(key_id: str, nonce: str) -> bool:
    """Record a nonce in the current transaction; False if it was already used (SQLite)."""
    table = SeenNonce._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key_id, nonce, seen_at) VALUES (%s, %s, %s) "  # noqa: S608 - table name from the model; values are parameters  # nosec B608
            "ON CONFLICT DO NOTHING",
            [key_id[:80], nonce[:80], connection.ops.adapt_datetimefield_value(clock.now())],
        )
        return cursor.rowcount == 1


def _action(fields: dict[str, Any]) -> str:
    return f"exchange.{fields['direction']}.{'ok' if fields['outcome'] == 'ok' else 'refused'}"


def _agency(fields: dict[str, Any]) -> str:
    return fields["consumer"] if fields["direction"] == "out" else fields["provider"]


def _audit_data(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "service": f"{fields['service']}/{fields['version']}",
        "consumer": fields["consumer"],
        "provider": fields["provider"],
        "filing": fields.get("filing_number", ""),
        "outcome": fields["outcome"],
    }
