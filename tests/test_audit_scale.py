"""``audit verify`` in ranges (and in worker processes), checkpoint key rotation, and
TRUNCATE refused on the audit tables."""

from __future__ import annotations

import base64
import datetime as dt
import io
import os

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client

from tambo.core import audit, audit_verify, keyfile, keyring, merkle, tlog
from tambo.core.models import AuditEntry, AuditSeal, Checkpoint, CheckpointKey, MerkleNode

from .conftest import bypassing_append_only

pytestmark = pytest.mark.django_db(transaction=True)

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")


def record_some(n: int, start: int = 0) -> None:
    with transaction.atomic():
        for i in range(start, start + n):
            audit.record("test.event", "thing", str(i), data={"i": i, "nota": "año"})


@pytest.fixture
def own_key(settings, tmp_path):
    """A checkpoint key of this test's own, so rotating it touches no other test."""
    settings.TAMBO_CHECKPOINT_KEY = tmp_path / "keys" / "audit-checkpoint.pem"
    keyfile.create(settings.TAMBO_CHECKPOINT_KEY)
    return settings.TAMBO_CHECKPOINT_KEY


# --- verify in ranges ----------------------------------------------------------------------


def test_the_completion_order_of_a_perfect_tree_matches_the_builder():
    builder = merkle.Builder()
    reported = []
    for i in range(16):
        reported += [(level, index) for level, index, _ in builder.append(bytes([i]) * 32)]
    assert list(audit_verify.completion_order(4)) == reported
    assert [merkle.node_position(*key) for key in reported] == list(range(1, 16))


@pytest.mark.parametrize("chunk_level", [0, 1, 2, 3, 10])
def test_verify_in_small_ranges_accepts_an_intact_log(chunk_level):
    record_some(13)
    tlog.make_checkpoint()
    record_some(6, start=13)
    tlog.make_checkpoint()
    result = audit_verify.verify(chunk_level=chunk_level)
    assert result.ok, result.problem
    assert (result.checked, result.checkpoints) == (19, 2)


@pytest.mark.parametrize("chunk_level", [1, 2, 10])
def test_verify_in_ranges_names_an_entry_altered_in_a_later_range(chunk_level):
    record_some(11)
    victim = AuditSeal.objects.get(seq=10).entry_id
    with bypassing_append_only():
        AuditEntry.objects.filter(pk=victim).update(actor_label="otra persona")
    result = audit_verify.verify(chunk_level=chunk_level)
    assert not result.ok and result.bad_entry_id == victim
    assert f"entry {victim} (position 10) was altered" in result.problem


def test_a_broken_link_at_the_start_of_a_range_is_found():
    record_some(8)
    with bypassing_append_only():
        AuditSeal.objects.filter(seq=4).update(chain_hash="0" * 64)
    result = audit_verify.verify(chunk_level=2)  # ranges (0,4] (4,8]: seq 4 ends the first
    assert not result.ok and result.bad_entry_id == AuditSeal.objects.get(seq=4).entry_id
    assert "position 4): chain hash does not follow" in result.problem


def test_a_node_above_the_ranges_is_checked_by_the_parent():
    record_some(8)
    # Node (3, 0) covers all eight leaves: above ranges of four, completed by position 8.
    with bypassing_append_only():
        MerkleNode.objects.filter(position=merkle.node_position(3, 0)).update(hash="00" * 32)
    result = audit_verify.verify(chunk_level=2)
    assert not result.ok and "Merkle node (3, 0) completed by entry" in result.problem
    assert "(position 8)" in result.problem


def test_an_extra_stored_node_is_found():
    record_some(5)
    with bypassing_append_only():
        MerkleNode.objects.create(position=99, hash="00" * 32)
    result = audit_verify.verify(chunk_level=1)
    assert not result.ok and "more nodes than the 5 sealed entries" in result.problem


def test_a_missing_position_inside_a_range_is_named():
    record_some(9)
    seal = AuditSeal.objects.get(seq=6)
    with bypassing_append_only():
        AuditSeal.objects.filter(seq=6).delete()
        AuditEntry.objects.filter(pk=seal.entry_id).delete()
    result = audit_verify.verify(chunk_level=2)
    assert not result.ok and "chain position 6 is missing" in result.problem


@pytest.mark.skipif(not ON_POSTGRES, reason="worker processes are used on PostgreSQL only")
def test_worker_processes_check_ranges_in_one_snapshot_and_name_the_altered_entry():
    record_some(40)
    tlog.make_checkpoint()
    result = audit_verify.verify(chunk_level=3, parallel=True)
    assert result.ok, result.problem
    assert (result.checked, result.checkpoints) == (40, 1)
    victim = AuditSeal.objects.get(seq=37).entry_id
    with bypassing_append_only():
        AuditEntry.objects.filter(pk=victim).update(data={"i": "cambiado"})
    result = audit_verify.verify(chunk_level=3, parallel=True)
    assert not result.ok and result.bad_entry_id == victim
    assert f"entry {victim} (position 37) was altered" in result.problem


def test_the_verify_command_runs_without_system_checks():
    from tambo.core.management.commands.audit import Command

    assert Command.requires_system_checks == []


# --- key rotation --------------------------------------------------------------------------


def test_rotation_keeps_old_checkpoints_verifiable_and_publishes_both_keys(own_key):
    record_some(3)
    first = tlog.make_checkpoint()
    old_id = first.key_id
    out = io.StringIO()
    call_command("audit", "rotate-key", stdout=out)
    new_id = keyfile.key_id(keyfile.load(own_key).public_key())
    assert new_id != old_id
    assert f"{old_id} -> {new_id}" in out.getvalue()
    assert keyring.retired_path(own_key, old_id).is_file()

    rotated = AuditEntry.objects.get(action="audit.key_rotated")
    assert rotated.object_id == new_id and rotated.data["previous_key_id"] == old_id
    latest = Checkpoint.objects.order_by("-tree_size").first()
    assert latest.key_id == new_id and latest.tree_size > 3  # includes the rotation entry
    assert first.key_id == old_id

    published = Client().get("/api/v1/audit/public-key").json()
    assert published["key_id"] == new_id
    keys = published["keys"]
    assert [k["key_id"] for k in keys] == [old_id, new_id]
    assert keys[0]["valid_until"] == keys[1]["valid_from"] and keys[1]["valid_until"] is None
    old_public = Ed25519PublicKey.from_public_bytes(base64.b64decode(keys[0]["public_key"]))
    old_public.verify(base64.b64decode(first.signature), tlog.text_of(first))

    result = audit.verify_chain()
    assert result.ok, result.problem
    assert result.checkpoints == 2


def test_a_checkpoint_signed_with_a_retired_key_after_its_rotation_is_refused(own_key):
    record_some(2)
    tlog.make_checkpoint()
    retired = keyfile.load(own_key)
    rotation = keyring.rotate()
    record_some(2, start=2)
    audit.seal_pending()
    size = tlog.tree_size()
    forged = Checkpoint(
        tree_size=size,
        root_hash=tlog.root(size).hex(),
        origin="tambo.gob.pe/audit",
        created_at=rotation.valid_from + dt.timedelta(hours=1),
        key_id=rotation.previous_key_id,
    )
    forged.signature = base64.b64encode(retired.sign(tlog.text_of(forged))).decode()
    forged.save(force_insert=True)
    result = audit.verify_chain()
    assert not result.ok
    assert f"key {rotation.previous_key_id} was not valid" in result.problem


def test_a_key_file_replaced_by_hand_is_refused(own_key):
    record_some(1)
    tlog.make_checkpoint()
    own_key.unlink()
    keyfile.create(own_key)
    record_some(1, start=1)
    with pytest.raises(keyring.KeyNotRegistered, match="rotate-key"):
        tlog.make_checkpoint()
    with pytest.raises(CommandError, match="rotate-key"):
        call_command("audit", "rotate-key", stdout=io.StringIO())


def test_a_checkpoint_by_an_unknown_key_is_named(own_key):
    record_some(2)
    made = tlog.make_checkpoint()
    with bypassing_append_only():
        Checkpoint.objects.filter(tree_size=made.tree_size).update(key_id="ffffffffffffffff")
    result = audit.verify_chain()
    assert not result.ok and "ffffffffffffffff, which is not a published key" in result.problem


def test_checkpoints_made_before_keys_were_published_are_covered_when_the_key_is_adopted(
    own_key,
):
    record_some(2)
    made = tlog.make_checkpoint()
    with bypassing_append_only():
        CheckpointKey.objects.all().delete()  # a log from before this table existed
    record_some(2, start=2)
    tlog.make_checkpoint()
    adopted = CheckpointKey.objects.get()
    assert adopted.valid_from == made.created_at
    assert audit.verify_chain().ok


# --- TRUNCATE ------------------------------------------------------------------------------


@pytest.mark.skipif(not ON_POSTGRES, reason="the triggers exist on PostgreSQL only")
@pytest.mark.parametrize(
    "table",
    [
        "core_auditentry",
        "core_auditseal",
        "core_merklenode",
        "core_checkpoint",
        "core_checkpointkey",
    ],
)
def test_truncate_on_an_audit_table_is_refused(table):
    record_some(2)
    tlog.make_checkpoint()
    with (
        pytest.raises(DatabaseError, match=r"TRUNCATE .* refused: the audit log is append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"TRUNCATE {table} CASCADE")
    assert AuditSeal.objects.count() == 2
    assert audit.verify_chain().ok
