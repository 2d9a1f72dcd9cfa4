"""The legal dates of an expediente and how observations move them (TUO of Ley 27444).

- the term runs from the business day after receipt (art. 144) for ``term_days`` business days;
- it shows as *due soon* once the agency's share of the term (80% by default) has passed;
- silence applies when the term and the 5 business days for notifying (art. 24.1) have passed
  without a notified decision (art. 199.1): ``silence_on`` is the first day it applies;
  for automatic approval it applies on receipt;
- an observation suspends the term (art. 136); when corrected, every date moves by the
  business days the term was suspended.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from tambo.core.calendar import BusinessCalendar

NOTIFICATION_DAYS = 5


@dataclass(frozen=True)
class LegalDates:
    due_on: dt.date
    due_soon_on: dt.date
    silence_on: dt.date | None


def legal_dates(
    calendar: BusinessCalendar,
    received_on: dt.date,
    term_days: int,
    approval: str,
    due_soon_percent: int = 80,
) -> LegalDates:
    due_on = calendar.add_business_days(received_on, term_days)
    due_soon_on = calendar.add_business_days(
        received_on, math.ceil(term_days * due_soon_percent / 100)
    )
    if approval == "automatic":
        silence_on: dt.date | None = received_on
    else:
        silence_on = calendar.add_business_days(due_on, NOTIFICATION_DAYS + 1)
    return LegalDates(due_on, due_soon_on, silence_on)


def suspended_business_days(calendar: BusinessCalendar, since: dt.date, until: dt.date) -> int:
    """Business days in (since, until]: the days the term did not run."""
    days = 0
    day = since
    while day < until:
        day = calendar.next_business_day(day)
        if day <= until:
            days += 1
    return days


def shift(calendar: BusinessCalendar, day: dt.date | None, business_days: int) -> dt.date | None:
    return None if day is None else calendar.add_business_days(day, business_days)
