"""``tambo audit``: seal pending entries, sign a checkpoint, verify everything, make the key.

- ``seal``: seal pending entries into the hash chain and the Merkle tree;
- ``checkpoint``: sign the current tree if it grew (``--schedule``: queue the periodic task);
- ``verify``: the chain, the Merkle nodes, every checkpoint and the consistency between them;
- ``keygen``: create the checkpoint key at ``TAMBO_CHECKPOINT_KEY`` unless it exists.
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tambo.core import audit, keyfile, tlog
from tambo.core.tasks import schedule_next_checkpoint


class Command(BaseCommand):
    help = "Audit log: 'seal', 'checkpoint', 'verify' (chain, tree, checkpoints), 'keygen'."

    def add_arguments(self, parser):
        parser.add_argument("operation", choices=["verify", "seal", "checkpoint", "keygen"])
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
