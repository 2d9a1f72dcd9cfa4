"""The audit log: every change is recorded and sealed into a hash chain; tampering is found."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from tambo.core import audit
from tambo.core.models import AuditEntry, AuditSeal, ChainHead, PendingSeal

from .conftest import bypassing_append_only

pytestmark = pytest.mark.django_db(transaction=True)


def record_some(n: int) -> None:
    for i in range(n):
        with transaction.atomic():
            audit.record("test.event", "thing", str(i), data={"i": i, "texto": "ñandú"})


def test_entries_are_sealed_after_commit_in_order_and_the_chain_verifies():
    record_some(5)
    assert PendingSeal.objects.count() == 0
    seals = list(AuditSeal.objects.order_by("seq"))
    assert [s.seq for s in seals] == [1, 2, 3, 4, 5]
    assert [s.entry_id for s in seals] == sorted(s.entry_id for s in seals)
    previous = audit.GENESIS_HASH
    for seal in seals:
        assert seal.chain_hash == audit.link_hash(previous, audit.entry_digest(seal.entry))
        previous = seal.chain_hash
    head = ChainHead.objects.get()
    assert (head.size, head.head_hash) == (5, previous)
    result = audit.verify_chain()
    assert result.ok and result.checked == 5


def test_record_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError):
        audit.record("test.event", "thing", "x")


def test_an_entry_rolled_back_with_its_action_leaves_no_trace():
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        audit.record("test.event", "thing", "gone")
        1 / 0  # noqa: B018
    assert not AuditEntry.objects.exists()
    assert audit.verify_chain().ok


def test_a_tampered_entry_is_found_and_named():
    record_some(4)
    victim = AuditEntry.objects.order_by("id")[2]
    with bypassing_append_only():
        AuditEntry.objects.filter(pk=victim.pk).update(data={"i": 999})
    result = audit.verify_chain()
    assert not result.ok
    assert result.bad_entry_id == victim.pk
    assert f"entry {victim.pk}" in result.problem
    with pytest.raises(CommandError, match=f"entry {victim.pk}"):
        call_command("audit", "verify", stdout=io.StringIO())


def test_a_rewritten_link_is_found():
    record_some(3)
    seal = AuditSeal.objects.get(seq=2)
    with bypassing_append_only():
        AuditSeal.objects.filter(seq=2).update(chain_hash="0" * 64)
    result = audit.verify_chain()
    assert result.bad_entry_id == seal.entry_id


def test_a_deleted_entry_is_found():
    record_some(4)
    seal = AuditSeal.objects.get(seq=3)
    with bypassing_append_only():
        AuditSeal.objects.filter(seq=3).delete()
        AuditEntry.objects.filter(pk=seal.entry_id).delete()
    result = audit.verify_chain()
    assert not result.ok
    assert "position 3 is missing" in result.problem


def test_an_entry_silently_removed_from_the_queue_is_reported():
    with transaction.atomic():
        entry = audit.record("test.event", "thing", "lost")
        # Simulate a lost queue row: drop the after-commit sealing and the queue entry.
        PendingSeal.objects.filter(entry=entry).delete()
        transaction.get_connection().run_on_commit.clear()
    result = audit.verify_chain()
    assert not result.ok and result.bad_entry_id == entry.pk


def test_the_verify_command_reports_the_size():
    record_some(3)
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert "audit chain OK: 3 entries" in out.getvalue()


def test_pending_entries_are_sealed_by_the_seal_command_when_after_commit_sealing_was_skipped():
    with transaction.atomic():
        audit.record("test.event", "thing", "later")
        transaction.get_connection().run_on_commit.clear()
    assert PendingSeal.objects.count() == 1
    out = io.StringIO()
    call_command("audit", "seal", stdout=out)
    assert "sealed 1 entries" in out.getvalue()
    assert audit.verify_chain().ok
