"""The audit log as a transparency log: Merkle nodes written at sealing, proofs read from
them, signed checkpoints.

Leaf ``i`` (0-based) of the tree is the sealed entry at position ``seq = i + 1``; its leaf
data is the 32-byte entry digest the hash chain already computes (SHA-256 of the entry's
canonical JSON), so leaf hash = SHA-256(0x00 || digest). Interior perfect subtrees are
stored in ``MerkleNode`` as they complete, in the same transaction as their seals, under
the chain head lock; a proof or a root reads O(log n) of them.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.db import connection, transaction

from . import clock, keyfile, merkle
from .models import AuditSeal, ChainHead, Checkpoint, MerkleNode


def fetch(keys: set[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
    """The hashes of these perfect subtrees, in one query: leaves from the seals' digests,
    interior nodes by position (a proof is a few primary-key lookups, one round trip)."""
    leaves = {index + 1: (level, index) for level, index in keys if level == 0}
    positions = {merkle.node_position(*key): key for key in keys if key[0] > 0}
    parts, params = [], []
    if leaves:
        marks = ", ".join(["%s"] * len(leaves))
        parts.append(
            f"SELECT 0, seq, entry_digest FROM {AuditSeal._meta.db_table} WHERE seq IN ({marks})"  # noqa: S608 - table from the model, values are parameters  # nosec B608
        )
        params += list(leaves)
    if positions:
        marks = ", ".join(["%s"] * len(positions))
        parts.append(
            f"SELECT 1, position, hash FROM {MerkleNode._meta.db_table} WHERE position IN ({marks})"  # noqa: S608 - table from the model, values are parameters  # nosec B608
        )
        params += list(positions)
    found: dict[merkle.NodeKey, bytes] = {}
    if parts:
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            for interior, number, value in cursor.fetchall():
                if interior:
                    found[positions[number]] = bytes.fromhex(value)
                else:
                    found[leaves[number]] = merkle.leaf_hash(bytes.fromhex(value))
    missing = keys - found.keys()
    if missing:
        raise LookupError(f"Merkle tree nodes missing: {sorted(missing)[:3]}")
    return found


def builder_at(size: int) -> merkle.Builder:
    """A builder holding the tree of ``size`` sealed entries, ready to append."""
    keys = merkle.frontier_keys(size)
    known = fetch(set(keys)) if keys else {}
    return merkle.Builder(size, [known[key] for key in keys])


def append_leaves(size: int, digests: list[str]) -> None:
    """Store the interior nodes that sealing ``digests`` after ``size`` entries completes.

    Called by ``audit.seal_pending`` while it holds the chain head lock, in its transaction.
    """
    builder = builder_at(size)
    positions, hashes = [], []
    for digest in digests:
        for level, index, value in builder.append(merkle.leaf_hash(bytes.fromhex(digest))):
            positions.append(merkle.node_position(level, index))
            hashes.append(value.hex())
    if not positions:
        return
    if connection.vendor != "postgresql":
        MerkleNode.objects.bulk_create(
            [MerkleNode(position=p, hash=h) for p, h in zip(positions, hashes, strict=True)],
            batch_size=2000,
        )
        return
    with connection.cursor() as cursor:  # one INSERT over two arrays, no model instances
        cursor.execute(
            f"INSERT INTO {MerkleNode._meta.db_table} (position, hash) "  # noqa: S608 - table name from the model; values are parameters  # nosec B608
            "SELECT * FROM unnest(CAST(%s AS bigint[]), CAST(%s AS text[]))",
            [positions, hashes],
        )


def tree_size() -> int:
    head = ChainHead.objects.filter(pk=1).values_list("size", flat=True).first()
    return head or 0


def root(size: int) -> bytes:
    return merkle.ranges_hashes([(0, size)], fetch)[0] if size else merkle.EMPTY_ROOT


def inclusion_proof(seq: int, size: int) -> list[bytes]:
    """Audit path of the entry sealed at ``seq`` in the tree of ``size`` entries."""
    return merkle.ranges_hashes(merkle.inclusion_ranges(seq - 1, size), fetch)


def inclusion_proof_and_root(seq: int, size: int) -> tuple[list[bytes], bytes]:
    """The audit path and the root of the tree of ``size`` entries, from one query: the
    O(log n) stored subtrees of both are read together."""
    ranges = [*merkle.inclusion_ranges(seq - 1, size), (0, size)]
    hashes = merkle.ranges_hashes(ranges, fetch)
    return hashes[:-1], hashes[-1]


def consistency_proof(first: int, second: int) -> list[bytes]:
    return merkle.ranges_hashes(merkle.consistency_ranges(first, second), fetch)


# --- checkpoints ---------------------------------------------------------------------------


def checkpoint_text(origin: str, size: int, root_hex: str, at: dt.datetime) -> bytes:
    """The signed bytes: origin, size, base64 root (as in C2SP tlog checkpoints), UTC time."""
    root64 = base64.b64encode(bytes.fromhex(root_hex)).decode("ascii")
    when = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{origin}\n{size}\n{root64}\n{when}\n".encode()


def text_of(checkpoint: Checkpoint) -> bytes:
    return checkpoint_text(
        checkpoint.origin, checkpoint.tree_size, checkpoint.root_hash, checkpoint.created_at
    )


def signature_ok(checkpoint: Checkpoint, key: Ed25519PublicKey) -> bool:
    if checkpoint.key_id != keyfile.key_id(key):
        return False
    try:
        key.verify(base64.b64decode(checkpoint.signature), text_of(checkpoint))
    except (InvalidSignature, ValueError):
        return False
    return True


def make_checkpoint() -> Checkpoint | None:
    """Sign the current tree if it grew since the last checkpoint; None if it did not.

    Signed with the current key (``keyring.signing_key``), never dated before that key's
    validity began.
    """
    from . import keyring
    from .audit import lock_head

    with transaction.atomic():
        head = lock_head(wait=True)
        size = head.size
        last = Checkpoint.objects.order_by("-tree_size").first()
        if last is not None and last.tree_size >= size:
            return None
        private, key = keyring.signing_key()
        checkpoint = Checkpoint(
            tree_size=size,
            root_hash=root(size).hex(),
            origin=settings.TAMBO_CHECKPOINT_ORIGIN,
            created_at=max(clock.now().replace(microsecond=0), key.valid_from),
            key_id=key.key_id,
        )
        checkpoint.signature = base64.b64encode(private.sign(text_of(checkpoint))).decode("ascii")
        checkpoint.save(force_insert=True)
    return checkpoint


@dataclass
class CheckpointOut:
    """A checkpoint as published: the signed text is given so anyone can check the signature."""

    tree_size: int
    root_hash: str
    origin: str
    created_at: dt.datetime
    key_id: str
    signature: str
    signed_text: str

    @classmethod
    def of(cls, checkpoint: Checkpoint) -> CheckpointOut:
        return cls(
            tree_size=checkpoint.tree_size,
            root_hash=checkpoint.root_hash,
            origin=checkpoint.origin,
            created_at=checkpoint.created_at,
            key_id=checkpoint.key_id,
            signature=checkpoint.signature,
            signed_text=text_of(checkpoint).decode(),
        )
