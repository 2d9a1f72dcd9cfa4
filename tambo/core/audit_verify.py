"""``tambo audit verify``: the chain, the Merkle tree, every checkpoint and their consistency.

The sealed entries are cut into *ranges* of ``2**level`` positions aligned on that size, and
each range is checked on its own (:func:`check_range`), so ranges can be checked by several
processes at once:

- every entry's digest is recomputed from its row and compared with the sealed digest;
- every chain link is recomputed from the *stored* hash of the previous position, so a
  range needs nothing from the ranges before it (all links holding is the whole chain
  holding);
- the perfect Merkle subtrees inside the range are rebuilt level by level from the leaves
  and compared, in completion order, with the stored ``MerkleNode`` rows of the range;
  the few stored nodes *above* a full range (completed by its last leaf) are handed back
  with the range's root and checked by the parent, which folds the ranges' roots.

Once every stored node is known to be right, each checkpoint's root is computed from the
stored nodes (O(log n) rows) and compared with the signed one; then each checkpoint's
signature is checked with the key valid at its time (``keyring.py``), and a consistency
proof between consecutive checkpoints is built and verified as an outside auditor would.
The first problem found is named.

On PostgreSQL, with enough entries and outside a transaction, the ranges are checked by
``TAMBO_AUDIT_VERIFY_WORKERS`` forked processes, each in its own connection importing the
parent's exported REPEATABLE READ snapshot, so every process sees the same log. The
database formats the fixed fields of each entry's canonical JSON; Python re-encodes
``data`` with sorted keys and does the hashing with list comprehensions (hashlib in C).
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import itertools
import json
import multiprocessing
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Exists, OuterRef

from . import keyring, merkle, tlog
from .audit import GENESIS_HASH, VerifyResult, canonical_json
from .models import AuditEntry, AuditSeal, ChainHead, Checkpoint, MerkleNode, PendingSeal

# The canonical JSON of an entry around its ``data``: PostgreSQL writes the fixed fields
# (``to_json`` escapes strings exactly as Python's encoder with ensure_ascii=False: quote,
# backslash and control characters only); Python re-encodes ``data`` with sorted keys and
# hashes the whole. (Formatting ``data`` in SQL too was measured: it costs PostgreSQL more
# than it saves Python.)
_PG_ROWS = """
SELECT s.entry_digest, s.chain_hash,
       '{{"action":' || to_json(e.action)::text
       || ',"actor_id":' || coalesce(e.actor_id::text, 'null')
       || ',"actor_label":' || to_json(e.actor_label)::text
       || ',"agency_code":' || to_json(e.agency_code)::text
       || ',"at":"' || to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
       || '","data":',
       e.data::text,
       ',"id":' || e.id::text
       || ',"object_id":' || to_json(e.object_id)::text
       || ',"object_type":' || to_json(e.object_type)::text || '}}'
FROM {seals} s JOIN {entries} e ON e.id = s.entry_id
WHERE s.seq > %s AND s.seq <= %s
ORDER BY s.seq
"""

Row = tuple[str, str, str, str | None, str]
SNAPSHOT_ID = re.compile(r"^[0-9A-Fa-f-]+$")


@dataclass
class RangeResult:
    """What checking the positions ``(start, end]`` found."""

    start: int
    end: int
    last_entry_id: int | None = None
    root: bytes | None = None  # the range's perfect subtree, when the range is full
    upper: list[str] = field(default_factory=list)  # stored nodes above it, lowest first
    problem: str | None = None
    bad_entry_id: int | None = None
    checked: int = 0


def _pg_rows(start: int, end: int) -> list[Row]:
    """(sealed digest, chain hash, JSON before data, data, JSON after data) of positions
    ``(start, end]`` in order. Neither position nor entry id is fetched: they are only
    needed to name a problem, and are looked up then."""
    sql = _PG_ROWS.format(seals=AuditSeal._meta.db_table, entries=AuditEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, [start, end])
        return cursor.fetchall()


def _orm_rows(start: int, end: int) -> list[Row]:
    """The same rows as :func:`_pg_rows` from any database; the canonical JSON is whole."""
    rows = (
        AuditSeal.objects.filter(seq__gt=start, seq__lte=end)
        .order_by("seq")
        .values_list(
            "entry__id",
            "entry_digest",
            "chain_hash",
            "entry__at",
            "entry__actor_id",
            "entry__actor_label",
            "entry__action",
            "entry__object_type",
            "entry__object_id",
            "entry__agency_code",
            "entry__data",
        )
    )
    out: list[Row] = []
    for entry_id, digest, chain, at, actor, label, action, otype, oid, agency, data in rows:
        canonical = canonical_json(
            {
                "id": entry_id,
                "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
                "actor_id": actor,
                "actor_label": label,
                "action": action,
                "object_type": otype,
                "object_id": oid,
                "agency_code": agency,
                "data": data,
            }
        )
        out.append((digest, chain, canonical, None, ""))
    return out


def _stored_nodes(first: int, last: int) -> list[str]:
    """Stored interior node hashes at positions ``(first, last]``, in position order."""
    return list(
        MerkleNode.objects.filter(position__gt=first, position__lte=last)
        .order_by("position")
        .values_list("hash", flat=True)
    )


def _nodes_before(size: int) -> int:
    """How many interior nodes a tree of ``size`` leaves has (they fill positions 1..that)."""
    return size - size.bit_count()


@lru_cache(maxsize=8)
def completion_order(level: int) -> tuple[tuple[int, int], ...]:
    """The interior nodes of a perfect tree of ``2**level`` leaves as (level, index), in the
    order they complete; a tree of fewer leaves completes a prefix of this order."""
    order = []
    for size in range(1, (1 << level) + 1):
        for node_level in range(1, (size & -size).bit_length()):
            order.append((node_level, (size >> node_level) - 1))
    return tuple(order)


def check_range(start: int, end: int, level: int) -> RangeResult:
    """Check positions ``(start, end]``; ``start`` is a multiple of ``2**level`` and the
    range is at most that long (shorter only at the end of the log).

    The cyclic garbage collector is paused meanwhile: the range's hundreds of thousands of
    short-lived tuples, strings and dicts hold no cycles, and collecting them repeatedly
    cost a fifth of the time.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return _check_range(start, end, level)
    finally:
        if paused:
            gc.enable()


def _check_range(start: int, end: int, level: int) -> RangeResult:
    result = RangeResult(start, end)

    def broken(problem: str, index: int, entry_id: int | None) -> RangeResult:
        result.problem, result.checked, result.bad_entry_id = problem, index, entry_id
        return result

    rows = _pg_rows(start, end) if connection.vendor == "postgresql" else _orm_rows(start, end)
    # Positions are the primary key: as many rows as positions means every one is there.
    if len(rows) != end - start:
        present = AuditSeal.objects.filter(seq__gt=start, seq__lte=end).order_by("seq")
        for position, (seq, entry_id) in enumerate(
            present.values_list("seq", "entry_id"), start + 1
        ):
            if seq != position:
                return broken(
                    f"chain position {position} is missing (found {seq})", position - 1, entry_id
                )
        return broken(f"chain position {start + len(rows) + 1} is missing", start + len(rows), None)
    if not rows:
        return result
    sealed, chains, heads, datas, tails = zip(*rows, strict=True)

    def entry_at(position: int) -> int | None:
        return AuditSeal.objects.filter(seq=position).values_list("entry_id", flat=True).first()

    sha256, loads, encode = hashlib.sha256, json.loads, canonical_json
    digests = [
        sha256((h if d is None else h + encode(loads(d)) + t).encode()).digest()
        for h, d, t in zip(heads, datas, tails, strict=True)
    ]
    computed = [d.hex() for d in digests]
    if computed != list(sealed):
        i = next(i for i, (a, b) in enumerate(zip(computed, sealed, strict=True)) if a != b)
        entry_id = entry_at(start + i + 1)
        return broken(
            f"entry {entry_id} (position {start + i + 1}) was altered: "
            "its content no longer matches its sealed digest",
            start + i,
            entry_id,
        )

    previous = _previous_chain_hash(start)
    if previous is None:
        return broken(f"chain position {start} is missing", start, None)
    links = [
        sha256(bytes.fromhex(p) + d).hexdigest()
        for p, d in zip((previous, *chains[:-1]), digests, strict=True)
    ]
    if links != list(chains):
        i = next(i for i, (a, b) in enumerate(zip(links, chains, strict=True)) if a != b)
        entry_id = entry_at(start + i + 1)
        return broken(
            f"entry {entry_id} (position {start + i + 1}): chain hash "
            "does not follow from the previous entry",
            start + i,
            entry_id,
        )

    # The perfect subtrees inside the range, level by level (zip drops an unpaired tail).
    levels = [[sha256(b"\x00" + d).digest() for d in digests]]
    while len(levels[-1]) > 1:
        lower = levels[-1]
        levels.append(
            [
                sha256(b"\x01" + a + b).digest()
                for a, b in zip(lower[::2], lower[1::2], strict=False)
            ]
        )
    inside = _nodes_before(len(rows))
    order = completion_order(level)[:inside]
    expected = [levels[lv][i].hex() for lv, i in order]
    stored = _stored_nodes(_nodes_before(start), _nodes_before(end))
    if stored[:inside] != expected:
        i = next(
            (i for i, (a, b) in enumerate(zip(expected, stored, strict=False)) if a != b),
            len(stored),
        )
        node_level, index = order[i]
        position = start + ((index + 1) << node_level)  # the leaf that completed it
        entry_id = entry_at(position)
        return broken(
            f"Merkle node ({node_level}, {(start >> node_level) + index}) completed by entry "
            f"{entry_id} (position {position}) is missing or altered",
            position - 1,
            entry_id,
        )
    if len(rows) == 1 << level:
        result.last_entry_id = entry_at(end)
        result.root = levels[level][0]
        result.upper = stored[inside:]
    result.checked = end
    return result


def _previous_chain_hash(start: int) -> str | None:
    if start == 0:
        return GENESIS_HASH
    return AuditSeal.objects.filter(seq=start).values_list("chain_hash", flat=True).first()


def _ranges(size: int, level: int) -> list[tuple[int, int, int]]:
    step = 1 << level
    return [(start, min(start + step, size), level) for start in range(0, size, step)]


def _chunk_level(size: int, workers: int) -> int:
    """About eight ranges per worker, each between 2**10 and 2**16 entries."""
    wanted = max(1, size // (8 * workers))
    return min(16, max(10, wanted.bit_length() - 1))


# --- parallel checking ---------------------------------------------------------------------


PLAN_SETTINGS = {
    "enable_hashjoin": "off",
    "enable_mergejoin": "off",
    "max_parallel_workers_per_gather": "0",
    "jit": "off",  # compiling the query costs more than it saves per range
}


def _plan_for_ranges(cursor: Any) -> None:
    """Read a range of positions as one walk of the seals' primary key with one entry
    lookup per row. (Left alone, the planner scans the *whole* seal table by entry id and
    sorts the range on disk: quadratic over all ranges.)"""
    for name, value in PLAN_SETTINGS.items():
        cursor.execute(f"SET LOCAL {name} = {value}")  # nosec B608 - constants above


def _check_in_snapshot(task: tuple[str, int, int, int]) -> RangeResult:
    """In a worker process: check one range in the parent's exported snapshot."""
    snapshot, start, end, level = task
    if not SNAPSHOT_ID.match(snapshot):
        raise ValueError("not a snapshot id")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")  # nosec B608 - checked id
        _plan_for_ranges(cursor)
        return check_range(start, end, level)


def _workers(size: int, parallel: bool | None) -> int:
    if connection.vendor != "postgresql" or connection.in_atomic_block or parallel is False:
        return 1
    if parallel is None and size < settings.TAMBO_AUDIT_VERIFY_PARALLEL_MIN:
        return 1
    return max(1, min(settings.TAMBO_AUDIT_VERIFY_WORKERS or os.cpu_count() or 1, 16))


def verify(*, chunk_level: int | None = None, parallel: bool | None = None) -> VerifyResult:
    """Verify the whole log. ``chunk_level`` fixes the range size (tests use small ranges);
    ``parallel`` forces (True) or forbids (False) worker processes; by default they are used
    on PostgreSQL from ``TAMBO_AUDIT_VERIFY_PARALLEL_MIN`` entries."""
    outer = connection.in_atomic_block  # then the caller's transaction has the snapshot
    size = AuditSeal.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    workers = _workers(size, parallel)
    pool = None
    if workers > 1:
        # Fork before this process holds a connection, so no child shares its socket.
        connections.close_all()
        pool = multiprocessing.get_context("fork").Pool(workers)
    try:
        with transaction.atomic():
            if connection.vendor != "postgresql":
                return _verify(pool, workers, chunk_level)
            with connection.cursor() as cursor:
                if not outer:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                _plan_for_ranges(cursor)
            try:
                return _verify(pool, workers, chunk_level)
            finally:
                if outer:  # leave the caller's transaction as it was
                    with connection.cursor() as cursor:
                        for name in PLAN_SETTINGS:
                            cursor.execute(f"RESET {name}")  # nosec B608 - constants
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()


def _verify(pool: Any, workers: int, chunk_level: int | None) -> VerifyResult:
    pending = PendingSeal.objects.count()
    checkpoints = list(Checkpoint.objects.order_by("tree_size"))
    size = AuditSeal.objects.order_by("-seq").values_list("seq", flat=True).first() or 0

    def broken(problem: str, checked: int, entry_id: int | None = None) -> VerifyResult:
        return VerifyResult(checked, pending, problem, entry_id, len(checkpoints))

    problem = keyring.check_signatures(checkpoints)
    if problem:
        return broken(problem, 0)

    level = chunk_level if chunk_level is not None else _chunk_level(size, workers)
    ranges = _ranges(size, level)
    if pool is None:
        results: Iterable[RangeResult] = (check_range(*task) for task in ranges)
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
        results = pool.imap(_check_in_snapshot, [(snapshot, *task) for task in ranges])

    top = merkle.Builder()  # over the full ranges' roots: the nodes above the ranges
    for result in results:
        if result.problem:
            return broken(result.problem, result.checked, result.bad_entry_id)
        if result.root is None:
            continue
        done = top.append(result.root)
        above = [value.hex() for _lv, _i, value in done]
        if above != result.upper:
            i = next(
                (i for i, (a, b) in enumerate(zip(above, result.upper, strict=False)) if a != b),
                len(result.upper),
            )
            node_level, index, _value = done[min(i, len(done) - 1)]
            return broken(
                f"Merkle node ({level + node_level}, {index}) completed by entry "
                f"{result.last_entry_id} (position {result.end}) is missing or altered",
                result.end - 1,
                result.last_entry_id,
            )
    if MerkleNode.objects.filter(position__gt=_nodes_before(size)).exists():
        return broken(
            f"the Merkle tree has more nodes than the {size} sealed entries complete", size
        )

    # Every stored node is right, so roots read from them are the entries' roots.
    for checkpoint in checkpoints:
        if checkpoint.tree_size > size:
            return broken(
                f"checkpoint of size {checkpoint.tree_size} is larger than the {size} "
                "sealed entries",
                size,
            )
        if tlog.root(checkpoint.tree_size).hex() != checkpoint.root_hash:
            return broken(
                f"checkpoint of size {checkpoint.tree_size}: its signed root does not match "
                "the entries",
                checkpoint.tree_size,
            )
    last = _previous_chain_hash(size)
    head = ChainHead.objects.filter(pk=1).first()
    if head is not None and (head.size != size or head.head_hash != last):
        return broken(
            f"chain head says {head.size} entries ending in {head.head_hash[:12]}, "
            f"recomputed {size} ending in {(last or '')[:12]}",
            size,
        )
    for older, newer in itertools.pairwise(checkpoints):
        proof = tlog.consistency_proof(older.tree_size, newer.tree_size)
        if not merkle.verify_consistency(
            older.tree_size,
            newer.tree_size,
            bytes.fromhex(older.root_hash),
            bytes.fromhex(newer.root_hash),
            proof,
        ):
            return broken(
                f"checkpoints of sizes {older.tree_size} and {newer.tree_size} are not consistent",
                size,
            )
    # Every entry is sealed or queued: counts first (index-only), the search only if they
    # disagree (each seal and each queue row points at a distinct entry).
    if AuditEntry.objects.count() != size + pending:
        unsealed = (
            AuditEntry.objects.filter(
                ~Exists(AuditSeal.objects.filter(entry_id=OuterRef("pk"))),
                ~Exists(PendingSeal.objects.filter(entry_id=OuterRef("pk"))),
            )
            .order_by("pk")
            .values_list("pk", flat=True)
            .first()
        )
        if unsealed is not None:
            return broken(
                f"entry {unsealed} is neither sealed nor queued for sealing", size, unsealed
            )
    return VerifyResult(size, pending, None, None, len(checkpoints))
