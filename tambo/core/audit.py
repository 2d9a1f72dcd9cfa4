"""Append to the audit log, seal pending entries into the hash chain, verify the chain.

``record`` is called by actions inside their transaction. ``seal_pending`` runs after
commit (``on_commit``), takes the chain head lock without waiting, and links pending
entries in id order: hash_n = SHA-256(hash_{n-1} || digest(entry_n)); in the same
transaction it appends them as leaves of the Merkle tree (``tlog.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection, transaction

from . import clock, tlog
from .models import AuditEntry, AuditSeal, ChainHead, PendingSeal
from .sql import bound_cursor

log = logging.getLogger(__name__)

GENESIS_HASH = hashlib.sha256(b"tambo audit chain").hexdigest()


def record(
    action: str,
    object_type: str,
    object_id: str,
    *,
    actor: Any = None,
    agency_code: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append an entry in the current transaction; it is sealed after commit."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record must run inside the action's transaction")
    actor_id = getattr(actor, "pk", None)
    if connection.vendor == "postgresql":
        return _record_postgres(
            action,
            object_type,
            str(object_id),
            actor_id,
            str(getattr(actor, "username", "") or (actor or "system"))[:150],
            agency_code,
            data or {},
        )
    entry = AuditEntry.objects.create(
        at=clock.now(),
        actor_id=actor_id,
        actor_label=str(getattr(actor, "username", "") or (actor or "system"))[:150],
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        agency_code=agency_code,
        data=data or {},
    )
    PendingSeal.objects.create(entry=entry)
    transaction.on_commit(seal_quietly)
    return entry


def _record_postgres(
    action: str,
    object_type: str,
    object_id: str,
    actor_id: int | None,
    actor_label: str,
    agency_code: str,
    data: dict[str, Any],
) -> AuditEntry:
    """The entry and its place in the sealing queue in one statement (a data-modifying CTE)."""
    at = clock.now()
    entries, pending = AuditEntry._meta.db_table, PendingSeal._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH e AS (INSERT INTO {entries} (at, actor_id, actor_label, action, object_type, "  # noqa: S608 - table names from models; values are parameters  # nosec B608
            f"object_id, agency_code, data) VALUES (%s, %s, %s, %s, %s, %s, %s, CAST(%s AS jsonb)) "
            f"RETURNING id) INSERT INTO {pending} (entry_id) SELECT id FROM e RETURNING entry_id",
            [
                at,
                actor_id,
                actor_label,
                action,
                object_type,
                object_id,
                agency_code,
                json.dumps(data, cls=DjangoJSONEncoder),
            ],
        )
        entry_id = cursor.fetchone()[0]
    transaction.on_commit(seal_quietly)
    return AuditEntry(
        pk=entry_id,
        at=at,
        actor_id=actor_id,
        actor_label=actor_label,
        action=action,
        object_type=object_type,
        object_id=object_id,
        agency_code=agency_code,
        data=data,
    )


def record_with_statement(
    prelude: str,
    params: list[Any],
    object_id_sql: str,
    returning: str,
    action: str,
    object_type: str,
    *,
    actor: Any = None,
    actor_label: str | None = None,
    agency_code: str = "",
    data: dict[str, Any] | None = None,
    at: Any = None,
) -> tuple[Any, ...]:
    """PostgreSQL only: the caller's write and its audit entry in one statement.

    ``prelude`` holds the caller's data-modifying CTEs (``name AS (...)``, comma
    separated) with their ``params``; ``object_id_sql`` is a scalar SQL expression over
    them naming the object (for example the number a CTE has just assigned), and
    ``returning`` the select list the caller wants back. One round trip instead of one
    per table keeps short the time a filing holds its agency's number counter locked.
    The entry is sealed after commit, as with :func:`record`. Outside a transaction the one
    statement is its own transaction (a read recorded by a GET view), so it is still atomic.
    """
    if connection.vendor != "postgresql":
        raise RuntimeError("record_with_statement needs PostgreSQL; use record() elsewhere")
    entry, entry_params = entry_ctes(
        "audit",
        f"({object_id_sql})",
        [],
        action,
        object_type,
        actor_id=getattr(actor, "pk", None),
        actor_label=(actor_label or str(getattr(actor, "username", "") or (actor or "system"))),
        agency_code=agency_code,
        data=data,
        at=at,
    )
    sql = f"WITH {prelude}, {entry} SELECT {returning}"
    with bound_cursor() as cursor:
        cursor.execute(sql, [*params, *entry_params])
        row = cursor.fetchone()
    transaction.on_commit(seal_quietly)
    return row


def entry_ctes(
    name: str,
    object_id_sql: str,
    object_id_params: list[Any],
    action: str,
    object_type: str,
    *,
    actor_id: int | None,
    actor_label: str,
    agency_code: str = "",
    data: dict[str, Any] | None = None,
    at: Any = None,
) -> tuple[str, list[Any]]:
    """PostgreSQL: the two CTEs (``name_entry``, ``name_pending``) that append an audit entry
    and queue it for sealing, with their parameters: the building block of
    :func:`record_with_statement`, and for a statement that writes two audited things at once
    (its other entry's CTEs go in the prelude; the sealing is queued once, after commit).
    ``object_id_sql`` is a scalar SQL expression over ``object_id_params`` and the statement's
    other CTEs."""
    entries, pending = AuditEntry._meta.db_table, PendingSeal._meta.db_table
    sql = (
        f"{name}_entry AS (INSERT INTO {entries} (at, actor_id, actor_label, action, "  # noqa: S608 — table names from the models; values are parameters  # nosec B608
        f"object_type, object_id, agency_code, data) VALUES (%s, %s, %s, %s, %s, "
        f"{object_id_sql}, %s, CAST(%s AS jsonb)) RETURNING id), "
        f"{name}_pending AS (INSERT INTO {pending} (entry_id) SELECT id FROM {name}_entry)"
    )
    return sql, [
        at or clock.now(),
        actor_id,
        actor_label[:150],
        action,
        object_type,
        *object_id_params,
        agency_code,
        json.dumps(data or {}, cls=DjangoJSONEncoder),
    ]


def record_many(entries: list[dict[str, Any]], *, actor: Any = None) -> int:
    """Append many entries at once (the sweep); each dict has action, object_type, object_id,
    agency_code and data. Sealed after commit like single entries."""
    if not entries:
        return 0
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record_many must run inside the action's transaction")
    now = clock.now()
    label = str(getattr(actor, "username", "") or (actor or "system"))[:150]
    created = AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                at=now,
                actor_id=getattr(actor, "pk", None),
                actor_label=label,
                action=e["action"],
                object_type=e["object_type"],
                object_id=str(e["object_id"]),
                agency_code=e.get("agency_code", ""),
                data=e.get("data", {}),
            )
            for e in entries
        ],
        batch_size=2000,
    )
    PendingSeal.objects.bulk_create([PendingSeal(entry_id=e.pk) for e in created], batch_size=2000)
    transaction.on_commit(seal_quietly)
    return len(created)


def append_select(select_sql: str, params: list[Any]) -> int:
    """Append the entries a caller's ``SELECT`` produces, without building objects (the sweep).

    The SELECT returns the columns ``at, actor_id, actor_label, action, object_type,
    object_id, agency_code, data`` (``data`` as JSON text). The entries are queued for
    sealing like any other. Returns how many were appended.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.append_select must run inside the action's transaction")
    entries = AuditEntry._meta.db_table
    pending = PendingSeal._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {entries} (at, actor_id, actor_label, action, object_type, object_id, "
            f"agency_code, data) {select_sql} RETURNING id",
            params,
        )
        ids = [row[0] for row in cursor.fetchall()]
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            cursor.execute(
                f"INSERT INTO {pending} (entry_id) SELECT id FROM {entries} "  # noqa: S608 - table names from models, placeholders only; values are parameters  # nosec B608
                f"WHERE id IN ({', '.join(['%s'] * len(chunk))})",
                chunk,
            )
    if ids:
        transaction.on_commit(seal_quietly)
    return len(ids)


def json_param() -> str:
    """The placeholder for a JSON text parameter in raw SQL (jsonb needs a cast on PostgreSQL)."""
    return "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"


# The canonical JSON encoder (same output as json.dumps with these options, built once).
canonical_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def entry_digest(entry: AuditEntry) -> str:
    """SHA-256 of the entry's canonical JSON (sorted keys, UTC time in microseconds)."""
    return _digest(tuple(getattr(entry, name) for name in _DIGESTED))


# The entry's fields in its canonical JSON, in the order :func:`_digest` takes them.
_DIGESTED = (
    "pk",
    "at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "agency_code",
    "data",
)


def _digest(values: tuple[Any, ...]) -> str:
    """:func:`entry_digest` of an entry read as a row of the ``_DIGESTED`` fields."""
    pk, at, actor_id, actor_label, action, object_type, object_id, agency_code, data = values
    canonical = canonical_json(
        {
            "id": pk,
            "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "actor_id": actor_id,
            "actor_label": actor_label,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "agency_code": agency_code,
            "data": data,
        }
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def link_hash(previous: str, digest: str) -> str:
    return hashlib.sha256(bytes.fromhex(previous) + bytes.fromhex(digest)).hexdigest()


def lock_head(wait: bool) -> ChainHead | None:
    """Lock the chain head row; ``None`` if another sealer holds it and ``wait`` is false."""
    for _attempt in range(2):
        try:
            # A savepoint, so that a refused lock does not abort the surrounding transaction.
            with transaction.atomic():
                head = ChainHead.objects.select_for_update(nowait=not wait).filter(pk=1).first()
        except DatabaseError:
            return None  # another sealer holds the head: it will take our entries too
        if head is not None:
            return head
        ChainHead.objects.get_or_create(pk=1, defaults={"head_hash": GENESIS_HASH})
    raise RuntimeError("audit chain head could not be created")


def seal_pending(*, wait: bool = True, max_batches: int | None = None) -> int:
    """Seal committed pending entries in id order; returns how many were sealed."""
    batch_size = settings.TAMBO_AUDIT_SEAL_BATCH
    sealed = batches = 0
    while max_batches is None or batches < max_batches:
        with transaction.atomic():
            head = lock_head(wait)
            if head is None:
                return sealed
            entry_ids = list(
                PendingSeal.objects.order_by("entry_id").values_list("entry_id", flat=True)[
                    :batch_size
                ]
            )
            if not entry_ids:
                return sealed
            # The entries as rows, not model instances: sealing runs for every entry
            # written, and building objects was most of its cost.
            rows = (
                AuditEntry.objects.filter(pk__in=entry_ids).order_by("pk").values_list(*_DIGESTED)
            )
            now = clock.now()
            start_size = head.size
            seals = []
            for row in rows:
                digest = _digest(row)
                head.size += 1
                head.head_hash = link_hash(head.head_hash, digest)
                seals.append((head.size, row[0], digest, head.head_hash))
            _insert_seals(seals, now)
            tlog.append_leaves(start_size, [digest for _, _, digest, _ in seals])
            PendingSeal.objects.filter(entry_id__in=entry_ids).delete()
            head.save(update_fields=["size", "head_hash"])
            sealed += len(seals)
            batches += 1
        if len(entry_ids) < batch_size:
            return sealed
    return sealed


def _insert_seals(seals: list[tuple[int, int, str, str]], sealed_at: dt.datetime) -> None:
    """Write the seals (seq, entry id, entry digest, chain hash): on PostgreSQL one INSERT
    over arrays, elsewhere through the ORM."""
    if connection.vendor != "postgresql":
        AuditSeal.objects.bulk_create(
            [
                AuditSeal(
                    seq=seq,
                    entry_id=entry_id,
                    entry_digest=digest,
                    chain_hash=chain,
                    sealed_at=sealed_at,
                )
                for seq, entry_id, digest, chain in seals
            ]
        )
        return
    columns = list(zip(*seals, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AuditSeal._meta.db_table} "  # noqa: S608 - table name from the model; values are parameters  # nosec B608
            "(seq, entry_id, entry_digest, chain_hash, sealed_at) "
            "SELECT seq, entry_id, digest, chain, %s FROM unnest("
            "CAST(%s AS bigint[]), CAST(%s AS bigint[]), CAST(%s AS text[]), CAST(%s AS text[])"
            ") AS s (seq, entry_id, digest, chain)",
            [sealed_at, *(list(column) for column in columns)],
        )


_last_seal_attempt = 0.0


def seal_quietly() -> None:
    """After-commit hook: seal without waiting; a failure never breaks the request.

    A process tries at most once per ``TAMBO_AUDIT_SEAL_INTERVAL`` seconds, so under load
    one sealing transaction takes the entries of many requests (a bounded merge delay, as
    in Certificate Transparency); `tambo audit seal`, the sweep and `audit verify` seal
    whatever is still queued when traffic stops.
    """
    global _last_seal_attempt
    interval = settings.TAMBO_AUDIT_SEAL_INTERVAL
    now = time.monotonic()
    if interval and now - _last_seal_attempt < interval:
        return
    _last_seal_attempt = now
    try:
        seal_pending(wait=False, max_batches=4)
    except DatabaseError:
        log.exception("audit sealing failed; pending entries stay queued")
        if connection.in_atomic_block:
            raise


@dataclass
class VerifyResult:
    checked: int
    pending: int
    problem: str | None = None
    bad_entry_id: int | None = None
    checkpoints: int = 0

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain() -> VerifyResult:
    """Recompute every digest, link, Merkle node and checkpoint; name the first mismatch."""
    from .audit_verify import verify

    return verify()


def history(object_type: str, object_id: str, actions: set[str] | None = None) -> list[AuditEntry]:
    """The entries about one object, oldest first (index-backed)."""
    qs = AuditEntry.objects.filter(object_type=object_type, object_id=str(object_id))
    if actions is not None:
        qs = qs.filter(action__in=actions)
    return list(qs.order_by("id"))
