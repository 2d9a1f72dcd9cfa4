"""``tambo retention [--dry-run]``: remove the documents and answers of expedientes past their
retention, and delete abandoned drafts past theirs."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from tambo.core import clock
from tambo.privacy.retention import apply_retention


class Command(BaseCommand):
    help = (
        "Remove the uploaded documents and the answers of concluded expedientes older than "
        "their procedure's retention_years, and delete drafts unfiled for longer than its "
        "draft_retention_days (audit entries are kept; idempotent)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only say what would go")
        parser.add_argument("--date", help="run as if today were YYYY-MM-DD (Lima)")

    def handle(self, *args, dry_run=False, date=None, **options):
        now = None
        if date:
            try:
                day = dt.date.fromisoformat(date)
            except ValueError as exc:
                raise CommandError(f"--date must be YYYY-MM-DD, got {date!r}") from exc
            now = dt.datetime.combine(day, dt.time(12), tzinfo=clock.LIMA)
        report = apply_retention(now=now, dry_run=dry_run)
        verb = "would remove" if dry_run else "removed"
        self.stdout.write(
            f"{report.cases} expedientes past retention: {verb} {report.documents} documents "
            f"({report.bytes} bytes) and the answers of {report.answers}"
        )
        self.stdout.write(
            f"{report.drafts} abandoned drafts past retention: {verb} them with "
            f"{report.draft_documents} documents"
        )
        for number in report.numbers[:50]:
            self.stdout.write(f"  {number}")
