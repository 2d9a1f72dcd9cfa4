"""``tambo plazo --from YYYY-MM-DD --days N [--agency CODE]``: the N-th business day after a date."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from tambo.core.calendar import NATIONAL


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--from must be a date as YYYY-MM-DD, got {value!r}") from exc


class Command(BaseCommand):
    help = "Print the date of the N-th business day after the given date (YYYY-MM-DD)."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", required=True, type=str)
        parser.add_argument("--days", required=True, type=int)
        parser.add_argument("--agency", default=None, help="agency code, to count its closures")

    def handle(self, *args, start: str, days: int, agency: str | None, **options):
        if days < 0:
            raise CommandError("--days must be zero or more")
        calendar = NATIONAL
        if agency:
            from tambo.catalog.queries import agency_calendar, get_agency

            found = get_agency(agency)
            if found is None:
                raise CommandError(f"unknown agency {agency!r}")
            calendar = agency_calendar(found)
        self.stdout.write(calendar.add_business_days(_date(start), days).isoformat())
