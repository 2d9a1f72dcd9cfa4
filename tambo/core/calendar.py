"""Business days for legal terms (TUO of Ley 27444, arts. 144-145).

A term counts business days from the business day after receipt; weekends,
national holidays (``holidays``, country PE), public-sector non-working days
decreed by the Executive (a reviewed YAML file) and the agency's own closures
do not count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import holidays
import yaml
from django.conf import settings

from . import clock


@lru_cache(maxsize=1)
def national_non_working_days() -> frozenset[dt.date]:
    """Decreed public-sector non-working days from ``TAMBO_NATIONAL_CALENDAR``."""
    path = settings.TAMBO_NATIONAL_CALENDAR
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return frozenset(entry["date"] for entry in entries)


@lru_cache(maxsize=64)
def _peru_holidays(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("PE", years=year).keys())


@dataclass(frozen=True)
class OfficeHours:
    """An agency's cut-off for same-day receipt; ``None`` means 23:59 (24/7 filing)."""

    cutoff: dt.time | None = None


@dataclass
class BusinessCalendar:
    """The calendar of one agency (or the national one when ``closures`` is empty)."""

    closures: frozenset[dt.date] = field(default_factory=frozenset)
    office_hours: OfficeHours = field(default_factory=OfficeHours)

    @classmethod
    def for_closures(
        cls, closures: Iterable[dt.date], cutoff: dt.time | None = None
    ) -> BusinessCalendar:
        return cls(frozenset(closures), OfficeHours(cutoff))

    def non_working_reason(self, day: dt.date) -> str | None:
        """Why ``day`` is not a business day, or ``None`` if it is one."""
        if day.weekday() >= 5:
            return "weekend"
        if day in _peru_holidays(day.year):
            return "national holiday"
        if day in national_non_working_days():
            return "public-sector non-working day"
        if day in self.closures:
            return "agency closure"
        return None

    def is_business_day(self, day: dt.date) -> bool:
        return self.non_working_reason(day) is None

    def next_business_day(self, day: dt.date) -> dt.date:
        """The first business day strictly after ``day``."""
        day += dt.timedelta(days=1)
        while not self.is_business_day(day):
            day += dt.timedelta(days=1)
        return day

    def add_business_days(self, start: dt.date, days: int) -> dt.date:
        """The ``days``-th business day after ``start`` (``start`` itself never counts).

        ``add_business_days(receipt, 0)`` is ``receipt``; a term of N days filed
        on ``receipt`` ends on ``add_business_days(receipt, N)``.
        """
        if days < 0:
            raise ValueError("a term cannot be negative")
        day = start
        for _ in range(days):
            day = self.next_business_day(day)
        return day

    def reception_date(self, at: dt.datetime) -> dt.date:
        """The legal date of receipt of a filing made at instant ``at``.

        A filing on a business day before the cut-off counts that day; after the
        cut-off, or on a non-working day, it counts on the next business day
        (Ley 31170; INDECOPI Res. 0518-2024/SEL-INDECOPI for the 23:59 default).
        """
        local = at.astimezone(clock.LIMA)
        day = local.date()
        cutoff = self.office_hours.cutoff
        if self.is_business_day(day) and (cutoff is None or local.time() < cutoff):
            return day
        return self.next_business_day(day)


NATIONAL = BusinessCalendar()
