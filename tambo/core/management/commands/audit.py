"""``tambo audit``: seal pending entries, sign a checkpoint, verify everything, make the key.

- ``seal``: seal pending entries into the hash chain and the Merkle tree;
- ``checkpoint``: sign the current tree if it grew (``--schedule``: queue the periodic task);
- ``verify``: the chain, the Merkle nodes, every checkpoint and the consistency between them;
- ``keygen``: create the checkpoint key at ``TAMBO_CHECKPOINT_KEY`` unless it exists;
- ``rotate-key``: sign the tree with the current key, start a new key (published with its
  validity, recorded in the audit log), sign the tree again with it.

The command skips Django's system checks: ``verify`` is run by auditors and cron jobs, and
the checks (URL and API import) cost more start-up time than a large part of the work.
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tambo.core import audit, keyfile, keyring, tlog
from tambo.core.tasks import schedule_next_checkpoint


class Command(BaseCommand):
    help = (
        "Audit log: 'seal', 'checkpoint', 'verify' (chain, tree, checkpoints), 'keygen', "
        "'rotate-key'."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument(
            "operation", choices=["verify", "seal", "checkpoint", "keygen", "rotate-key"]
        )
        parser.add_argument(
            "--schedule", action="store_true", help="checkpoint: queue the periodic task"
        )

    def handle(self, *args, operation: str, schedule: bool = False, **options):
        if operation == "seal":
            count = audit.seal_pending(wait=True)
            self.stdout.write(f"sealed {count} entries")
            return
        if operation == "keygen":
            path = settings.TAMBO_CHECKPOINT_KEY
            created = keyfile.create(path)
            key = keyfile.load(path).public_key()
            state = "created" if created else "kept existing"
            self.stdout.write(f"{state} checkpoint key {path} (key id {keyfile.key_id(key)})")
            return
        if operation == "checkpoint":
            self.checkpoint(schedule)
            return
        if operation == "rotate-key":
            self.rotate_key()
            return
        started = time.monotonic()
        audit.seal_pending(wait=True)
        result = audit.verify_chain()
        if not result.ok:
            raise CommandError(f"audit log broken after {result.checked} entries: {result.problem}")
        self.stdout.write(
            f"audit chain OK: {result.checked} entries, {result.pending} pending, "
            f"{result.checkpoints} checkpoints consistent "
            f"({time.monotonic() - started:.2f} s)"
        )

    def rotate_key(self) -> None:
        if not settings.TAMBO_CHECKPOINT_KEY.is_file():
            raise CommandError(
                f"no checkpoint key at {settings.TAMBO_CHECKPOINT_KEY}: run `tambo audit keygen`"
            )
        try:
            rotation = keyring.rotate(actor="rotate-key")
        except (keyring.KeyNotRegistered, OSError) as exc:
            raise CommandError(str(exc)) from exc
        audit.seal_pending(wait=True)
        made = tlog.make_checkpoint()
        self.stdout.write(
            f"checkpoint key rotated: {rotation.previous_key_id} -> {rotation.key_id}, "
            f"valid from {rotation.valid_from.isoformat()}; the retired private key is at "
            f"{rotation.retired_file} (take it offline or destroy it)"
        )
        if made is not None:
            self.stdout.write(f"checkpoint {made.tree_size} signed with key {made.key_id}")

    def checkpoint(self, schedule: bool) -> None:
        if schedule:
            schedule_next_checkpoint()
            self.stdout.write("checkpoint scheduled")
            return
        if not settings.TAMBO_CHECKPOINT_KEY.is_file():
            raise CommandError(
                f"no checkpoint key at {settings.TAMBO_CHECKPOINT_KEY}: run `tambo audit keygen`"
            )
        audit.seal_pending(wait=True)
        made = tlog.make_checkpoint()
        if made is None:
            self.stdout.write("tree did not grow: no new checkpoint")
        else:
            self.stdout.write(f"checkpoint {made.tree_size} root {made.root_hash}")
