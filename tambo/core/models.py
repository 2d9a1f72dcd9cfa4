"""The audit log: append-only entries, sealed after commit into a hash chain.

Entries are written inside the transaction of the action they record; sealing
(assigning each entry its place and hash in the chain) happens after commit, in
batches, so that the chain head is not a lock every filing in the country waits on.
"""

from __future__ import annotations

from django.db import models


class AuditEntry(models.Model):
    """One state change: who did what to which object, when. Never updated or deleted."""

    at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=64)
    agency_code = models.CharField(max_length=20, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["object_type", "object_id", "id"], name="audit_object_idx")]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.object_type}:{self.object_id}"


class AuditSeal(models.Model):
    """The entry's position in the chain and the hash that links it to the previous one."""

    seq = models.BigIntegerField(primary_key=True)
    entry = models.OneToOneField(AuditEntry, on_delete=models.PROTECT, related_name="seal")
    entry_digest = models.CharField(max_length=64)
    chain_hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField()

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"seal {self.seq} of entry {self.entry_id}"


class PendingSeal(models.Model):
    """Queue of committed entries not sealed yet (deleted once sealed)."""

    entry = models.OneToOneField(AuditEntry, on_delete=models.CASCADE, primary_key=True)

    def __str__(self) -> str:
        return f"pending entry {self.entry_id}"


class ChainHead(models.Model):
    """Single row: the chain's size and last hash; sealers lock it to append in order."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    size = models.BigIntegerField(default=0)
    head_hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"chain of {self.size} entries"


class BenchInsert(models.Model):
    """Target of the one-INSERT ceiling endpoint used by bench/ (enabled only for benchmarks)."""

    at = models.DateTimeField()
    payload = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"bench row {self.pk}"


class MerkleNode(models.Model):
    """Hash of one perfect subtree of the audit Merkle tree (level >= 1), written at sealing.

    ``position`` numbers nodes in the order they complete (``merkle.node_position(level,
    index)``), so rows are only ever appended and ``audit verify`` reads them in one
    sequential pass; the position alone identifies the subtree.
    Leaves (level 0) are not stored: they are ``SHA-256(0x00 || seal.entry_digest)``.
    """

    position = models.BigIntegerField(primary_key=True)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"Merkle node {self.position}"


class CheckpointKey(models.Model):
    """A public key that signs (or signed) checkpoints, valid from ``valid_from`` until the
    next key's ``valid_from``. Rows are only appended (rotation adds the next key), so
    checkpoints signed by a retired key stay verifiable; the private half is never stored.
    """

    key_id = models.CharField(max_length=16, primary_key=True)
    public_key = models.CharField(max_length=64, help_text="raw Ed25519 public key, base64")
    valid_from = models.DateTimeField()

    class Meta:
        ordering = ["valid_from"]

    def __str__(self) -> str:
        return f"checkpoint key {self.key_id}"


class Checkpoint(models.Model):
    """A signed statement of the tree: size, root hash, time, signed with the platform key.

    Made only when the tree grew, so sizes strictly increase and key the table.
    """

    tree_size = models.BigIntegerField(primary_key=True)
    root_hash = models.CharField(max_length=64)
    origin = models.CharField(max_length=100)
    created_at = models.DateTimeField()
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=100)

    class Meta:
        ordering = ["tree_size"]

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size}"


class TaskLease(models.Model):
    """The lease of a running background task (tambo.core.tasklease).

    The worker running a task renews ``renewed_at`` while it runs; a task RUNNING whose lease
    (its start or last renewal) is older than ``TAMBO_TASK_LEASE_SECONDS`` lost its worker and
    is put back to READY. ``reclaims`` counts how often that happened to this task.
    """

    task = models.OneToOneField(
        "django_tasks_database.DBTaskResult", on_delete=models.CASCADE, primary_key=True
    )
    renewed_at = models.DateTimeField(null=True)
    reclaims = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"lease of task {self.task_id} (reclaimed {self.reclaims}×)"
