"""The checkpoint signing keys over time: the key that signs now, the keys published with
their validity, the key a checkpoint must have been signed with, and rotation.

The private key lives in the file ``TAMBO_CHECKPOINT_KEY`` (never in the database). Each
key's public half is published in ``CheckpointKey`` (append-only) with ``valid_from``; a
key is valid until the next key's ``valid_from``. A checkpoint names its key (``key_id``)
and is accepted only with that key, signed inside its validity. So after a rotation the
old checkpoints stay verifiable with the retired public key, and a stolen retired private
key cannot sign a checkpoint dated after the rotation without it being refused.

The first key is adopted when it signs its first checkpoint (valid from the oldest
checkpoint it already signed, for logs older than this table); ``tambo audit rotate-key``
starts every later key and records the rotation in the audit log.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.db import transaction

from . import clock, keyfile
from .models import Checkpoint, CheckpointKey


class KeyNotRegistered(RuntimeError):
    """The key file holds a key that is not the current published key."""


@dataclass(frozen=True)
class PublishedKey:
    key_id: str
    public: Ed25519PublicKey
    valid_from: dt.datetime | None  # None: a key not published yet (older logs only)
    valid_until: dt.datetime | None  # None: still the signing key

    def covers(self, moment: dt.datetime) -> bool:
        """Whether a checkpoint signed at ``moment`` (whole seconds) may use this key."""
        return (self.valid_from is None or self.valid_from <= moment) and (
            self.valid_until is None or moment <= self.valid_until
        )

    def describe(self) -> dict[str, object]:
        return {
            **keyfile.describe(self.public),
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
        }


def _public(raw64: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(raw64))


def _raw64(key: Ed25519PublicKey) -> str:
    return base64.b64encode(keyfile.raw_public(key)).decode("ascii")


def _second(moment: dt.datetime) -> dt.datetime:
    return moment.replace(microsecond=0)


def published() -> list[PublishedKey]:
    """Every published key, oldest first, with its validity. A log whose key signed before
    keys were published shows that key (from the key file), valid without bounds."""
    rows = list(CheckpointKey.objects.order_by("valid_from"))
    keys = [
        PublishedKey(
            row.key_id,
            _public(row.public_key),
            row.valid_from,
            rows[i + 1].valid_from if i + 1 < len(rows) else None,
        )
        for i, row in enumerate(rows)
    ]
    if not keys:
        try:
            public = keyfile.load(settings.TAMBO_CHECKPOINT_KEY).public_key()
        except OSError:
            return []
        keys = [PublishedKey(keyfile.key_id(public), public, None, None)]
    return keys


def signing_key() -> tuple[Ed25519PrivateKey, CheckpointKey]:
    """The private key that signs checkpoints now and its published row.

    Called by ``tlog.make_checkpoint`` under the chain head lock. The first key is adopted
    here; a key file that is not the latest published key (replaced by hand instead of
    ``rotate-key``) is refused, so every key change goes through the audited rotation.
    """
    private = keyfile.load(settings.TAMBO_CHECKPOINT_KEY)
    key_id = keyfile.key_id(private.public_key())
    latest = CheckpointKey.objects.order_by("-valid_from").first()
    if latest is not None:
        if latest.key_id != key_id:
            raise KeyNotRegistered(
                f"the checkpoint key file holds key {key_id}, but the current published key is "
                f"{latest.key_id}: change keys with `tambo audit rotate-key`"
            )
        return private, latest
    first_use = (
        Checkpoint.objects.filter(key_id=key_id)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    row = CheckpointKey.objects.create(
        key_id=key_id,
        public_key=_raw64(private.public_key()),
        valid_from=_second(first_use or clock.now()),
    )
    return private, row


@dataclass
class Rotation:
    previous_key_id: str
    key_id: str
    valid_from: dt.datetime
    retired_file: Path


def retired_path(path: Path, key_id: str) -> Path:
    """Where the retired private key is moved (to be taken offline or destroyed)."""
    return path.with_name(f"{path.stem}.{key_id}.retired{path.suffix}")


def rotate(*, actor: str = "operator") -> Rotation:
    """Start a new signing key: sign the current tree with the old key, publish the new
    key (valid from now), record the rotation in the audit log, then put the new private
    key in the key file and move the old one aside. Checkpoints from now on are signed
    with the new key; the caller signs the first one."""
    from . import audit, tlog

    audit.seal_pending(wait=True)
    tlog.make_checkpoint()  # the tree so far, under the old key (None if it did not grow)
    path = settings.TAMBO_CHECKPOINT_KEY
    fresh = path.with_name(f".{path.name}.new")
    fresh.unlink(missing_ok=True)
    keyfile.create(fresh)
    try:
        with transaction.atomic():
            audit.lock_head(wait=True)  # no checkpoint is signed while keys change
            _private, old = signing_key()
            new_public = keyfile.load(fresh).public_key()
            new_id = keyfile.key_id(new_public)
            valid_from = max(_second(clock.now()), old.valid_from + dt.timedelta(seconds=1))
            CheckpointKey.objects.create(
                key_id=new_id, public_key=_raw64(new_public), valid_from=valid_from
            )
            audit.record(
                "audit.key_rotated",
                "checkpoint_key",
                new_id,
                actor=actor,
                data={
                    "previous_key_id": old.key_id,
                    "public_key": _raw64(new_public),
                    "valid_from": valid_from.isoformat(),
                },
            )
            retired = retired_path(path, old.key_id)
            # Last step in the transaction: if moving the files fails, nothing is published.
            os.replace(path, retired)
            try:
                os.replace(fresh, path)
            except OSError:
                os.replace(retired, path)
                raise
    finally:
        fresh.unlink(missing_ok=True)
    return Rotation(old.key_id, new_id, valid_from, retired)


def check_signatures(checkpoints: list[Checkpoint]) -> str | None:
    """The first checkpoint whose signature does not hold with the key valid at its time."""
    if not checkpoints:
        return None
    keys = {key.key_id: key for key in published()}
    if not keys:
        return "the checkpoint public key is not available to check signatures"
    from .tlog import signature_ok

    for checkpoint in checkpoints:
        key = keys.get(checkpoint.key_id)
        if key is None:
            return (
                f"checkpoint of size {checkpoint.tree_size}: signed by key {checkpoint.key_id}, "
                "which is not a published key"
            )
        if not key.covers(checkpoint.created_at):
            return (
                f"checkpoint of size {checkpoint.tree_size}: key {key.key_id} was not valid "
                f"at {checkpoint.created_at.isoformat()}"
            )
        if not signature_ok(checkpoint, key.public):
            return (
                f"checkpoint of size {checkpoint.tree_size}: the signature does not match "
                f"key {key.key_id}"
            )
    return None
