"""The audit log as a transparency log: Merkle nodes at sealing, signed checkpoints, proofs
through the public API, ``audit verify`` over all of it, and the append-only trigger."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django_tasks_db.models import DBTaskResult

from tambo.core import audit, keyfile, merkle, tlog
from tambo.core.models import AuditEntry, AuditSeal, Checkpoint, MerkleNode
from tambo.core.tasks import checkpoint_task, schedule_next_checkpoint

from .conftest import bypassing_append_only

pytestmark = pytest.mark.django_db(transaction=True)


def record_some(n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        with transaction.atomic():
            audit.record("test.event", "thing", str(i), data={"i": i, "nota": "año"})


def leaves() -> list[bytes]:
    digests = AuditSeal.objects.order_by("seq").values_list("entry_digest", flat=True)
    return [merkle.leaf_hash(bytes.fromhex(d)) for d in digests]


def reference_root(hashes: list[bytes]) -> bytes:
    if not hashes:
        return merkle.EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = merkle.split_point(len(hashes))
    return merkle.node_hash(reference_root(hashes[:k]), reference_root(hashes[k:]))


def checkpoint() -> Checkpoint | None:
    return tlog.make_checkpoint()


def test_sealing_in_batches_stores_every_perfect_subtree_and_roots_match_the_rfc(settings):
    settings.TAMBO_AUDIT_SEAL_BATCH = 3
    with transaction.atomic():
        for i in range(13):
            audit.record("test.event", "thing", str(i))
    assert AuditSeal.objects.count() == 13
    hashes = leaves()
    # 13 leaves: 13 - popcount(13) = 10 interior perfect subtrees, numbered 1..10.
    assert list(MerkleNode.objects.order_by("position").values_list("position", flat=True)) == (
        list(range(1, 11))
    )
    for size in range(14):
        assert tlog.root(size) == reference_root(hashes[:size])


def test_proofs_read_from_the_database_verify_for_every_entry_and_size():
    record_some(11)
    hashes = leaves()
    for size in range(1, 12):
        root = reference_root(hashes[:size])
        for seq in range(1, size + 1):
            path = tlog.inclusion_proof(seq, size)
            assert merkle.verify_inclusion(hashes[seq - 1], seq - 1, size, path, root)
        for first in range(0, size + 1):
            proof = tlog.consistency_proof(first, size)
            first_root = reference_root(hashes[:first])
            assert merkle.verify_consistency(first, size, first_root, root, proof)


def test_a_checkpoint_is_signed_with_the_published_key_and_only_made_when_the_tree_grew():
    first = checkpoint()
    assert first is not None and first.tree_size == 0
    assert (
        first.root_hash
        == merkle.EMPTY_ROOT.hex()
        == ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    )
    assert checkpoint() is None
    record_some(5)
    made = checkpoint()
    assert made.tree_size == 5 and made.root_hash == reference_root(leaves()).hex()
    assert checkpoint() is None
    published = Client().get("/api/v1/audit/public-key").json()
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(published["public_key"]))
    assert published["key_id"] == made.key_id == keyfile.key_id(key)
    text = tlog.text_of(made)
    assert text.decode().splitlines()[:2] == ["tambo.gob.pe/audit", "5"]
    key.verify(base64.b64decode(made.signature), text)  # raises if the signature is wrong


def test_the_checkpoint_command_and_verify_report_checkpoints():
    record_some(3)
    out = io.StringIO()
    call_command("audit", "checkpoint", stdout=out)
    assert "checkpoint 3 root" in out.getvalue()
    call_command("audit", "checkpoint", stdout=out)
    assert "tree did not grow" in out.getvalue()
    record_some(4, start=3)
    call_command("audit", "checkpoint", stdout=out)
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert "audit chain OK: 7 entries, 0 pending, 2 checkpoints consistent" in out.getvalue()


def test_the_checkpoint_task_signs_and_schedules_the_next_one():
    record_some(2)
    schedule_next_checkpoint()
    schedule_next_checkpoint()
    ready = DBTaskResult.objects.filter(task_path=checkpoint_task.module_path, status="READY")
    assert ready.count() == 1
    result = checkpoint_task.call()
    assert result == 2
    assert Checkpoint.objects.filter(tree_size=2).exists()
    assert checkpoint_task.call() is None  # nothing new: no checkpoint
    assert ready.count() == 1


def test_public_endpoints_give_proofs_an_outside_auditor_can_check():
    client = Client()
    assert client.get("/api/v1/audit/checkpoints/latest").json()["error"]["code"] == (
        "no_checkpoint"
    )
    record_some(6)
    older = checkpoint()
    record_some(7, start=6)
    newer = checkpoint()
    latest = client.get("/api/v1/audit/checkpoints/latest").json()
    assert (latest["tree_size"], latest["root_hash"]) == (13, newer.root_hash)
    key = Ed25519PublicKey.from_public_bytes(
        base64.b64decode(client.get("/api/v1/audit/public-key").json()["public_key"])
    )
    key.verify(base64.b64decode(latest["signature"]), latest["signed_text"].encode())

    page = client.get("/api/v1/audit/checkpoints", {"limit": 1}).json()
    assert [c["tree_size"] for c in page["items"]] == [6] and page["next_after"] == 6
    page = client.get("/api/v1/audit/checkpoints", {"limit": 1, "after": 6}).json()
    assert [c["tree_size"] for c in page["items"]] == [13] and page["next_after"] is None

    entry = AuditEntry.objects.order_by("id")[4]
    proof = client.get("/api/v1/audit/proofs/inclusion", {"entry": entry.pk}).json()
    assert proof["tree_size"] == 13 and proof["seq"] == 5
    digest = audit.entry_digest(entry)  # the auditor recomputes the leaf from the entry
    assert merkle.verify_inclusion(
        merkle.leaf_hash(bytes.fromhex(digest)),
        proof["leaf_index"],
        proof["tree_size"],
        [bytes.fromhex(p) for p in proof["audit_path"]],
        bytes.fromhex(latest["root_hash"]),
    )
    by_seq = client.get("/api/v1/audit/proofs/inclusion", {"seq": 5, "size": 6}).json()
    assert merkle.verify_inclusion(
        bytes.fromhex(by_seq["leaf_hash"]),
        4,
        6,
        [bytes.fromhex(p) for p in by_seq["audit_path"]],
        bytes.fromhex(older.root_hash),
    )
    consistency = client.get("/api/v1/audit/proofs/consistency", {"first": 6, "second": 13})
    assert merkle.verify_consistency(
        6,
        13,
        bytes.fromhex(older.root_hash),
        bytes.fromhex(newer.root_hash),
        [bytes.fromhex(p) for p in consistency.json()["proof"]],
    )


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/api/v1/audit/proofs/inclusion", {"entry": 999999}, 404, "unknown_entry"),
        ("/api/v1/audit/proofs/inclusion", {"seq": 99}, 404, "unknown_entry"),
        ("/api/v1/audit/proofs/inclusion", {}, 400, "entry_or_seq"),
        ("/api/v1/audit/proofs/inclusion", {"seq": 3, "size": 2}, 422, "size_out_of_range"),
        ("/api/v1/audit/proofs/inclusion", {"seq": 3, "size": 5}, 422, "size_out_of_range"),
        ("/api/v1/audit/proofs/inclusion", {"seq": "x"}, 422, "invalid_request"),
        ("/api/v1/audit/proofs/consistency", {"first": 3, "second": 2}, 422, "size_out_of_range"),
        ("/api/v1/audit/proofs/consistency", {"first": 1, "second": 9}, 422, "size_out_of_range"),
        ("/api/v1/audit/proofs/consistency", {"first": -1, "second": 2}, 422, "size_out_of_range"),
        ("/api/v1/audit/checkpoints", {"limit": 0}, 422, "size_out_of_range"),
    ],
)
def test_bad_requests_get_json_errors_with_stable_codes(path, params, status, code):
    record_some(4)
    response = Client().get(path, params)
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code


def test_an_entry_not_sealed_yet_gets_a_conflict():
    with transaction.atomic():
        entry = audit.record("test.event", "thing", "later")
        transaction.get_connection().run_on_commit.clear()
    response = Client().get("/api/v1/audit/proofs/inclusion", {"entry": entry.pk})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "entry_not_sealed"


def test_a_rewritten_checkpoint_root_is_named_by_verify():
    record_some(4)
    checkpoint()
    with bypassing_append_only():
        Checkpoint.objects.filter(tree_size=4).update(root_hash="ab" * 32)
    result = audit.verify_chain()
    assert not result.ok and "checkpoint of size 4" in result.problem
    with pytest.raises(CommandError, match="checkpoint of size 4"):
        call_command("audit", "verify", stdout=io.StringIO())


def test_a_checkpoint_resigned_with_another_key_is_refused():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    record_some(3)
    made = checkpoint()
    forged = Ed25519PrivateKey.generate().sign(tlog.text_of(made))
    with bypassing_append_only():
        Checkpoint.objects.filter(tree_size=3).update(signature=base64.b64encode(forged).decode())
    result = audit.verify_chain()
    assert not result.ok and "checkpoint of size 3: the signature" in result.problem


def test_a_whole_rewritten_history_does_not_match_the_signed_checkpoint():
    """Someone with database access rewrites an entry and recomputes its digest, the chain
    and the Merkle nodes consistently: only the signed checkpoint gives it away."""
    record_some(4)
    checkpoint()
    victim = AuditEntry.objects.order_by("id")[1]
    with bypassing_append_only():
        AuditEntry.objects.filter(pk=victim.pk).update(data={"i": "rewritten"})
        previous = audit.GENESIS_HASH
        builder = merkle.Builder()
        for seal in AuditSeal.objects.select_related("entry").order_by("seq"):
            digest = audit.entry_digest(seal.entry)
            previous = audit.link_hash(previous, digest)
            AuditSeal.objects.filter(seq=seal.seq).update(entry_digest=digest, chain_hash=previous)
            for level, index, value in builder.append(merkle.leaf_hash(bytes.fromhex(digest))):
                MerkleNode.objects.filter(position=merkle.node_position(level, index)).update(
                    hash=value.hex()
                )
        from tambo.core.models import ChainHead

        ChainHead.objects.filter(pk=1).update(head_hash=previous)
    result = audit.verify_chain()
    assert not result.ok
    assert result.problem == "checkpoint of size 4: its signed root does not match the entries"


def test_an_altered_merkle_node_is_named():
    record_some(4)
    with bypassing_append_only():
        MerkleNode.objects.filter(position=merkle.node_position(1, 1)).update(hash="00" * 32)
    result = audit.verify_chain()
    assert not result.ok and "Merkle node (1, 1)" in result.problem


@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres") is False,
    reason="the trigger exists on PostgreSQL only; this test runs in the PostgreSQL pass",
)
def test_postgres_refuses_update_and_delete_and_a_direct_change_is_detected():
    assert connection.vendor == "postgresql"
    record_some(3)
    checkpoint()
    refused = [
        "UPDATE core_auditentry SET actor_label = 'x'",
        "DELETE FROM core_auditentry",
        "UPDATE core_auditseal SET chain_hash = 'x'",
        "DELETE FROM core_auditseal",
        "UPDATE core_merklenode SET hash = 'x'",
        "DELETE FROM core_merklenode",
        "UPDATE core_checkpoint SET root_hash = 'x'",
        "DELETE FROM core_checkpoint",
    ]
    for statement in refused:
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
    assert audit.verify_chain().ok
    # The database superuser switches the triggers off and edits a row in place.
    victim = AuditEntry.objects.order_by("id")[1]
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(
                "UPDATE core_auditentry SET actor_label = 'someone else' WHERE id = %s",
                [victim.pk],
            )
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")
    with pytest.raises(CommandError, match=f"entry {victim.pk} .*was altered"):
        call_command("audit", "verify", stdout=io.StringIO())


def test_production_settings_refuse_to_start_without_the_checkpoint_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAMBO_")}
    env.update(
        TAMBO_SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/tambo",
        TAMBO_SIGNING_PASSWORD="s3cr3t-largo",
    )
    command = [sys.executable, "-c", "import tambo.settings.production"]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode != 0 and "TAMBO_CHECKPOINT_KEY" in run.stderr
    env["TAMBO_CHECKPOINT_KEY"] = str(tmp_path / "missing.pem")
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode != 0 and "TAMBO_CHECKPOINT_KEY" in run.stderr
    keyfile.create(tmp_path / "key.pem")
    env["TAMBO_CHECKPOINT_KEY"] = str(tmp_path / "key.pem")
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr


def test_verify_agrees_with_sealing_on_awkward_text_and_nested_data():
    """The PostgreSQL fast path formats part of the canonical JSON in SQL: it must give the
    same bytes as Python's encoder for quotes, backslashes, control characters, non-ASCII,
    nested objects, decimals and big integers."""
    awkward = 'comillas " barra \\ salto\nfin\ttab \x01 \x1f ñandú 漢字 🦙 \u2028 /'
    with transaction.atomic():
        audit.record(
            "test.event",
            "cosa",
            awkward[:60],
            actor=awkward,
            agency_code="MDSI",
            data={
                "texto": awkward,
                awkward: [1, 2.5, None, True, {"z": 1, "a": [awkward]}],
                "grande": 12345678901234567890,
                "decimal": 0.1,
                "pequeño": 1e-07,
                "vacío": {},
                "Z": "mayúscula antes",
            },
        )
        audit.record("test.event", "cosa", "vacía", data={})
    result = audit.verify_chain()
    assert result.ok, result.problem
    assert result.checked == 2
