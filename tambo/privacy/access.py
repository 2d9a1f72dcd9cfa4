"""Record who read a citizen's data: one INSERT per request, audited in the same statement.

``record_access`` is called by every view that shows a citizen's data to someone else
(the office case page, the office API, document downloads) and, later, by the exchange
between agencies (which passes its own accessor label, agency and legal basis). The
citizen reading their own data records nothing.

On PostgreSQL the access entries, the audit entry and its place in the sealing queue go
in one statement (data-modifying CTEs): one round trip, no reads. Elsewhere they are a
few INSERTs in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from tambo.core import audit, clock

from .models import AccessEntry, DataCategory

PURPOSE_CASE_HANDLING = "tramitación del expediente"
LEGAL_BASIS_CASE_HANDLING = "Ley 29733, art. 14.2; TUO Ley 27444"

Seen = tuple[str, str]  # (category, detail), e.g. ("document", "plano.pdf")

_COLUMNS = (
    "citizen_id, at, accessor_id, accessor_label, agency_code, agency_name, category, "
    "detail, filing_number, purpose, legal_basis, withheld_until"
)


def withheld_until(reserved_until: dt.date | None, today: dt.date | None = None) -> dt.date | None:
    """The date through which an entry recorded now is withheld (None: shown at once)."""
    if reserved_until is None:
        return None
    today = today or clock.local_now().date()
    return reserved_until if reserved_until >= today else None


@dataclass(frozen=True)
class AccessRecord:
    """An access about to be recorded: its rows and its audit entry, not yet written.

    :func:`record_access` writes it at once; a caller that writes something else in the
    same moment (the exchange's message log) passes it along, so both go in one statement.
    """

    citizen_id: int
    at: dt.datetime
    accessor: Any
    rows: list[tuple[Any, ...]]
    agency_code: str
    audit_label: str
    data: dict[str, Any]


def prepare_access(
    accessor: Any,
    citizen_id: int,
    seen: Sequence[Seen],
    *,
    agency_code: str,
    agency_name: str,
    purpose: str,
    legal_basis: str = "",
    filing_number: str = "",
    reserved_until: dt.date | None = None,
    accessor_label: str | None = None,
) -> AccessRecord | None:
    """The record :func:`record_access` writes, or None when there is nothing to record (the
    citizen reading their own data, or nothing seen)."""
    accessor_id = getattr(accessor, "pk", None)
    if accessor_id is not None and accessor_id == citizen_id:
        return None  # the citizen reading their own data
    if not seen:
        return None
    for category, _detail in seen:
        if category not in DataCategory.values:
            raise ValueError(f"unknown data category {category!r}")
    label = (accessor_label or _label(accessor))[:150]
    at = clock.now()
    withheld = withheld_until(reserved_until)
    rows = [
        (
            citizen_id,
            at,
            accessor_id,
            label,
            agency_code[:20],
            agency_name[:200],
            category,
            detail[:200],
            filing_number,
            purpose[:200],
            legal_basis[:200],
            withheld,
        )
        for category, detail in seen
    ]
    data = {
        "citizen": citizen_id,
        "filing": filing_number,
        "seen": [list(s) for s in seen],
        "purpose": purpose,
        "withheld_until": withheld.isoformat() if withheld else None,
    }
    audit_label = str(getattr(accessor, "username", "") or label)[:150]
    return AccessRecord(citizen_id, at, accessor, rows, agency_code, audit_label, data)


def record_access(accessor: Any, citizen_id: int, seen: Sequence[Seen], **details: Any) -> int:
    """Record that ``accessor`` saw ``seen`` of the citizen's data; returns the entries written.

    ``accessor`` is the official (a user) or ``None`` for a system of another agency, which
    then names itself in ``accessor_label``. ``details`` are :func:`prepare_access`'s keyword
    arguments: agency, purpose, legal basis, expediente and its legal reserve (already loaded
    by the caller, so that recording reads nothing).
    """
    record = prepare_access(accessor, citizen_id, seen, **details)
    if record is None:
        return 0
    write(record)
    return len(record.rows)


def write(record: AccessRecord) -> None:
    """Write a prepared record: on PostgreSQL one statement, elsewhere one transaction."""
    if connection.vendor == "postgresql":
        _insert_postgres(record)
    else:
        with transaction.atomic():
            write_in_transaction(record)


def write_in_transaction(record: AccessRecord) -> None:
    """Write ``record`` inside the caller's transaction, with the ORM (any database)."""
    names = _COLUMNS.split(", ")
    AccessEntry.objects.bulk_create(
        [AccessEntry(**dict(zip(names, row, strict=True))) for row in record.rows]
    )
    audit.record(
        "privacy.access",
        "citizen",
        record.citizen_id,
        actor=record.accessor or record.audit_label,
        agency_code=record.agency_code,
        data=record.data,
    )


def record_filing_access(
    accessor: Any, filing: Any, seen: Sequence[Seen], *, purpose: str = PURPOSE_CASE_HANDLING
) -> int:
    """``record_access`` for an official of the expediente's agency (everything is on the row)."""
    if accessor is not None and getattr(accessor, "pk", None) == filing.citizen_id:
        return 0
    return record_access(
        accessor,
        filing.citizen_id,
        seen,
        agency_code=filing.agency.code,
        agency_name=filing.agency.name,
        purpose=purpose,
        legal_basis=LEGAL_BASIS_CASE_HANDLING,
        filing_number=filing.number,
        reserved_until=filing.reserved_until,
    )


def _label(accessor: Any) -> str:
    if accessor is None:
        return "system"
    full = accessor.get_full_name() if hasattr(accessor, "get_full_name") else ""
    return f"{full} ({accessor.username})" if full else str(accessor.username)


def statement_parts(record: AccessRecord, name: str = "access") -> tuple[str, list[Any]]:
    """PostgreSQL: the data-modifying CTEs (``name``, ``name_audit_entry``,
    ``name_audit_pending``) that write ``record`` and its audit entry, with their parameters,
    for a caller that puts them in its own statement (see :func:`audit.record_with_statement`,
    which queues the sealing after commit)."""
    rows, rows_params = _rows_cte(record, name)
    entry, entry_params = audit.entry_ctes(
        f"{name}_audit",
        "CAST(%s AS text)",
        [str(record.citizen_id)],
        "privacy.access",
        "citizen",
        actor_id=getattr(record.accessor, "pk", None),
        actor_label=record.audit_label,
        agency_code=record.agency_code,
        data=record.data,
        at=record.at,
    )
    return f"{rows}, {entry}", [*rows_params, *entry_params]


def _rows_cte(record: AccessRecord, name: str) -> tuple[str, list[Any]]:
    """The CTE ``name`` inserting the record's access entries, and its parameters."""
    values = ", ".join(["(" + ", ".join(["%s"] * 12) + ")"] * len(record.rows))
    sql = f"{name} AS (INSERT INTO {AccessEntry._meta.db_table} ({_COLUMNS}) VALUES {values})"  # noqa: S608 - table and columns from the model; values are parameters  # nosec B608
    return sql, [v for row in record.rows for v in row]


def _insert_postgres(record: AccessRecord) -> None:
    """Access entries + audit entry + sealing queue in one statement."""
    rows, rows_params = _rows_cte(record, "access")
    # Outside a transaction the statement is its own transaction: its commit need not wait
    # for the WAL flush (a crash of the database server may lose the last fraction of a
    # second of reads, never half of one). Inside a caller's transaction the caller's
    # durability is kept.
    relaxed = settings.TAMBO_ACCESS_LOG_ASYNC_COMMIT and not connection.in_atomic_block
    setting = (
        "relaxed AS (SELECT set_config('synchronous_commit', 'off', true) AS relaxed), "
        if relaxed
        else ""
    )
    audit.record_with_statement(
        f"{setting}subject AS (SELECT CAST(%s AS text) AS id), {rows}",
        [str(record.citizen_id), *rows_params],
        "SELECT id FROM subject",
        "relaxed.relaxed FROM relaxed" if relaxed else "1",
        "privacy.access",
        "citizen",
        actor=SimpleNamespace(pk=getattr(record.accessor, "pk", None)),
        actor_label=record.audit_label,
        agency_code=record.agency_code,
        data=record.data,
        at=record.at,
    )
