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
from typing import Any

from django.db import connection, transaction

from . import keyfile, merkle, tlog
from .audit import GENESIS_HASH, VerifyResult, canonical_json
from .models import AuditEntry, AuditSeal, ChainHead, Checkpoint, MerkleNode, PendingSeal

CHUNK = 20_000

_PG_ROWS = """
SELECT s.seq, e.id, s.entry_digest, s.chain_hash,
       to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
       e.actor_id, e.actor_label, e.action, e.object_type, e.object_id, e.agency_code,
       e.data::text
FROM {seals} s JOIN {entries} e ON e.id = s.entry_id
ORDER BY s.seq
"""


def _pg_rows() -> Iterator[tuple[Any, ...]]:
    sql = _PG_ROWS.format(seals=AuditSeal._meta.db_table, entries=AuditEntry._meta.db_table)
    cursor = connection.chunked_cursor()
    try:
        cursor.execute(sql)
        while chunk := cursor.fetchmany(CHUNK):
            yield from chunk
    finally:
        cursor.close()


def _orm_rows() -> Iterator[tuple[Any, ...]]:
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
    for row in rows:
        at = row[4].astimezone(dt.UTC).isoformat(timespec="microseconds")
        yield (*row[:4], at, *row[5:])


def _nodes() -> Iterator[tuple[int, int, int, str]]:
    return (
        MerkleNode.objects.order_by("position")
        .values_list("position", "level", "index", "hash")
        .iterator(chunk_size=CHUNK)
    )


def verify() -> VerifyResult:
    with transaction.atomic():
        if connection.vendor == "postgresql":
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

    text_data = connection.vendor == "postgresql"
    rows = _pg_rows() if text_data else _orm_rows()
    loads, encode, sha256 = json.loads, canonical_json, hashlib.sha256
    nodes = _nodes()
    builder = merkle.Builder()
    append = builder.append
    previous = bytes.fromhex(GENESIS_HASH)
    n = 0
    for (
        seq,
        entry_id,
        digest_hex,
        chain_hex,
        at,
        actor,
        label,
        action,
        otype,
        oid,
        agency,
        data,
    ) in rows:
        n += 1
        if seq != n:
            return broken(f"chain position {n} is missing (found {seq})", n - 1, entry_id)
        canonical = encode(
            {
                "id": entry_id,
                "at": at,
                "actor_id": actor,
                "actor_label": label,
                "action": action,
                "object_type": otype,
                "object_id": oid,
                "agency_code": agency,
                "data": loads(data) if text_data else data,
            }
        )
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
            stored = next(nodes, None)
            expected = (merkle.node_position(level, index), level, index, value.hex())
            if stored != expected:
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
    extra = next(nodes, None)
    if extra is not None:
        return broken(f"Merkle node ({extra[1]}, {extra[2]}) lies beyond the {n} sealed entries", n)
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
    unsealed = (
        AuditEntry.objects.filter(seal__isnull=True)
        .exclude(pk__in=PendingSeal.objects.values("entry_id"))
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if unsealed is not None:
        return broken(f"entry {unsealed} is neither sealed nor queued for sealing", n, unsealed)

    return VerifyResult(n, pending, None, None, len(checkpoints))
