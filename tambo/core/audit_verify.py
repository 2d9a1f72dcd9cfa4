"""``tambo audit verify``: the chain, the Merkle tree, every checkpoint and their consistency.

One pass over the sealed entries in ``seq`` order recomputes each entry's digest from its
row, the chain link, the leaf hash and every interior node (compared with the stored
``MerkleNode`` rows, read in their own sequential pass), and the root at every checkpoint
size (compared with the signed root). Then each checkpoint's signature is checked, and a
consistency proof between consecutive checkpoints is built from the stored nodes and
verified as an outside auditor would. The first problem found is named.

On PostgreSQL the pass runs in one REPEATABLE READ snapshot and streams rows through a
server-side cursor, with the entry time formatted by the database and JSON decoded by
the C decoder; per entry the work is one JSON encode and three SHA-256 calls.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from . import keyfile, merkle, tlog
from .audit import GENESIS_HASH, VerifyResult, canonical_json
from .models import AuditEntry, AuditSeal, ChainHead, Checkpoint, MerkleNode, PendingSeal

CHUNK = 20_000

# The canonical JSON of an entry around its ``data``: PostgreSQL writes the fixed fields
# (``to_json`` escapes strings exactly as Python's encoder with ensure_ascii=False: quote,
# backslash and control characters only); Python re-encodes ``data`` with sorted keys and
# hashes the whole. (Formatting ``data`` in SQL too was measured: it costs PostgreSQL more
# than it saves Python.)
_PG_ROWS = """
SELECT s.seq, e.id, s.entry_digest, s.chain_hash,
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
ORDER BY s.seq
"""


def _stream(sql: str, prefetch: bool = False) -> Iterator[tuple[Any, ...]]:
    """Rows of ``sql`` through a server-side cursor, fetched in chunks.

    With ``prefetch`` a helper thread fetches the next chunk while the caller hashes the
    current one (psycopg releases the GIL while it waits), so PostgreSQL and Python work
    at the same time instead of taking turns.
    """
    cursor = connection.chunked_cursor()
    try:
        cursor.execute(sql)
        if not prefetch:
            while chunk := cursor.fetchmany(CHUNK):
                yield from chunk
            return
        with ThreadPoolExecutor(max_workers=1) as pool:
            future = pool.submit(cursor.fetchmany, CHUNK)
            while chunk := future.result():
                future = pool.submit(cursor.fetchmany, CHUNK)
                yield from chunk
    finally:
        cursor.close()


def _pg_rows() -> Iterator[tuple[int, int, str, str, str, str | None, str]]:
    """(seq, entry id, sealed digest, chain hash, JSON before data, data, JSON after data)."""
    sql = _PG_ROWS.format(seals=AuditSeal._meta.db_table, entries=AuditEntry._meta.db_table)
    return _stream(sql, prefetch=True)


def _orm_rows() -> Iterator[tuple[int, int, str, str, str, str | None, str]]:
    """The same rows as :func:`_pg_rows` from any database; the canonical JSON is whole."""
    rows = (
        AuditSeal.objects.order_by("seq")
        .values_list(
            "seq",
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
        .iterator(chunk_size=CHUNK)
    )
    for seq, entry_id, digest, chain, at, actor, label, action, otype, oid, agency, data in rows:
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
        yield seq, entry_id, digest, chain, canonical, None, ""


def _node_hashes() -> Iterator[str]:
    """Stored interior node hashes in position (completion) order."""
    if connection.vendor == "postgresql":
        table = MerkleNode._meta.db_table
        return (row[0] for row in _stream(f"SELECT hash FROM {table} ORDER BY position"))  # noqa: S608 - table from the model  # nosec B608
    return MerkleNode.objects.order_by("position").values_list("hash", flat=True).iterator(CHUNK)


def verify() -> VerifyResult:
    # One snapshot for the whole pass, unless the caller's transaction already has one.
    snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if snapshot:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return _verify()


def _verify() -> VerifyResult:
    pending = PendingSeal.objects.count()
    checkpoints = list(Checkpoint.objects.order_by("tree_size"))

    def broken(problem: str, checked: int, entry_id: int | None = None) -> VerifyResult:
        return VerifyResult(checked, pending, problem, entry_id, len(checkpoints))

    if checkpoints:
        try:
            key = tlog.public_key()
        except OSError:
            return broken("the checkpoint public key is not available to check signatures", 0)
        for checkpoint in checkpoints:
            if not tlog.signature_ok(checkpoint, key):
                return broken(
                    f"checkpoint of size {checkpoint.tree_size}: the signature does not match "
                    f"key {keyfile.key_id(key)}",
                    0,
                )
    targets = iter(checkpoints)
    target = next(targets, None)
    if target is not None and target.tree_size == 0:
        if target.root_hash != merkle.EMPTY_ROOT.hex():
            return broken("checkpoint of size 0 does not carry the empty tree's root", 0)
        target = next(targets, None)

    rows = _pg_rows() if connection.vendor == "postgresql" else _orm_rows()
    sha256, loads, encode = hashlib.sha256, json.loads, canonical_json
    nodes = _node_hashes()
    builder = merkle.Builder()
    append = builder.append
    previous = bytes.fromhex(GENESIS_HASH)
    n = 0
    for seq, entry_id, digest_hex, chain_hex, head, data, tail in rows:
        n += 1
        if seq != n:
            return broken(f"chain position {n} is missing (found {seq})", n - 1, entry_id)
        canonical = head if data is None else head + encode(loads(data)) + tail
        digest = sha256(canonical.encode()).digest()
        if digest.hex() != digest_hex:
            return broken(
                f"entry {entry_id} (position {seq}) was altered: "
                "its content no longer matches its sealed digest",
                n - 1,
                entry_id,
            )
        previous = sha256(previous + digest).digest()
        if previous.hex() != chain_hex:
            return broken(
                f"entry {entry_id} (position {seq}): chain hash "
                "does not follow from the previous entry",
                n - 1,
                entry_id,
            )
        for level, index, value in append(sha256(b"\x00" + digest).digest()):
            if next(nodes, None) != value.hex():
                return broken(
                    f"Merkle node ({level}, {index}) completed by entry {entry_id} "
                    f"(position {seq}) is missing or altered",
                    n - 1,
                    entry_id,
                )
        if target is not None and target.tree_size == n:
            if builder.root().hex() != target.root_hash:
                return broken(
                    f"checkpoint of size {n}: its signed root does not match the entries",
                    n,
                )
            target = next(targets, None)
    if next(nodes, None) is not None:
        return broken(f"the Merkle tree has more nodes than the {n} sealed entries complete", n)
    if target is not None:
        return broken(
            f"checkpoint of size {target.tree_size} is larger than the {n} sealed entries", n
        )
    head = ChainHead.objects.filter(pk=1).first()
    if head is not None and (head.size != n or head.head_hash != previous.hex()):
        return broken(
            f"chain head says {head.size} entries ending in {head.head_hash[:12]}, "
            f"recomputed {n} ending in {previous.hex()[:12]}",
            n,
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
                n,
            )
    # Every entry is sealed or queued: counts first (index-only), the search only if they
    # disagree (each seal and each queue row points at a distinct entry).
    if AuditEntry.objects.count() != n + pending:
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
            return broken(f"entry {unsealed} is neither sealed nor queued for sealing", n, unsealed)
    return VerifyResult(n, pending, None, None, len(checkpoints))
