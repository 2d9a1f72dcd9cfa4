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


def record_access(
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
) -> int:
    """Record that ``accessor`` saw ``seen`` of the citizen's data; returns the entries written.

    ``accessor`` is the official (a user) or ``None`` for a system of another agency, which
    then names itself in ``accessor_label``. ``reserved_until`` is the expediente's legal
    reserve (already loaded by the caller, so that recording reads nothing).
    """
    accessor_id = getattr(accessor, "pk", None)
    if accessor_id is not None and accessor_id == citizen_id:
        return 0  # the citizen reading their own data
    if not seen:
        return 0
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
    if connection.vendor == "postgresql":
        audit_label = str(getattr(accessor, "username", "") or label)[:150]
        _insert_postgres(rows, at, accessor_id, audit_label, agency_code, citizen_id, data)
    else:
        with transaction.atomic():
            AccessEntry.objects.bulk_create(
                [AccessEntry(**dict(zip(_COLUMNS.split(", "), row, strict=True))) for row in rows]
            )
            audit.record(
                "privacy.access",
                "citizen",
                citizen_id,
                actor=accessor or label,
                agency_code=agency_code,
                data=data,
            )
    return len(rows)


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


def _insert_postgres(
    rows: list[tuple[Any, ...]],
    at: dt.datetime,
    actor_id: int | None,
    label: str,
    agency_code: str,
    citizen_id: int,
    data: dict[str, Any],
) -> None:
    """Access entries + audit entry + sealing queue in one statement."""
    values = ", ".join(["(" + ", ".join(["%s"] * 12) + ")"] * len(rows))
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
        f"{setting}subject AS (SELECT CAST(%s AS text) AS id), "  # noqa: S608 - table and columns from the model; values are parameters  # nosec B608
        f"access AS (INSERT INTO {AccessEntry._meta.db_table} ({_COLUMNS}) VALUES {values})",
        [str(citizen_id), *(v for row in rows for v in row)],
        "SELECT id FROM subject",
        "relaxed.relaxed FROM relaxed" if relaxed else "1",
        "privacy.access",
        "citizen",
        actor=SimpleNamespace(pk=actor_id),
        actor_label=label,
        agency_code=agency_code,
        data=data,
        at=at,
    )
