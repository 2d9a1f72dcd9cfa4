"""``tambo sweep``: apply terms and silence to every open expediente; ``--schedule`` queues it."""

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError

from tambo.cases import sweep
from tambo.cases.cleanup import remove_orphans
from tambo.cases.tasks import schedule_next_sweep


class Command(BaseCommand):
    help = "Apply expired terms, administrative silence and deadline warnings (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="run as if today were YYYY-MM-DD (Lima)")
        parser.add_argument(
            "--schedule",
            action="store_true",
            help="queue the periodic sweep task for `tambo db_worker` instead",
        )
        parser.add_argument(
            "--orphans-older-than",
            type=int,
            default=3600,
            metavar="SECONDS",
            help="remove files a crash left without a document row once this old (default 3600)",
        )
        parser.add_argument(
            "--no-documents",
            action="store_true",
            help="leave the signing of decided documents to the worker",
        )

    def handle(
        self,
        *args,
        date=None,
        schedule=False,
        no_documents=False,
        orphans_older_than=3600,
        **options,
    ):
        if schedule:
            schedule_next_sweep()
            self.stdout.write("sweep scheduled")
            return
        today = None
        if date:
            try:
                today = dt.date.fromisoformat(date)
            except ValueError as exc:
                raise CommandError(f"--date must be YYYY-MM-DD, got {date!r}") from exc
        started = time.monotonic()
        report = sweep.run(today)
        issued = 0 if no_documents else sweep.issue_pending_documents()
        rows, files = remove_orphans(dt.timedelta(seconds=orphans_older_than))
        elapsed = time.monotonic() - started
        details = (
            ", ".join(f"{k}: {v}" for k, v in sorted(report.counts.items())) or "nothing to do"
        )
        self.stdout.write(
            f"sweep done in {elapsed:.2f} s — {details}; documents signed: {issued}"
            + (f"; orphans removed: {rows} rows, {files} files" if rows or files else "")
        )
