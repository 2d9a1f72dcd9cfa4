"""Business days and legal receipt dates (TUO of Ley 27444, arts. 144-145; Ley 31170).

Every expected date below was worked out by hand from a 2026 calendar: the weekday of each
date is asserted in the test itself, so a wrong expectation fails loudly instead of silently
agreeing with the code.
"""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import holidays
import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tambo.core.calendar import NATIONAL, BusinessCalendar

LIMA = ZoneInfo("America/Lima")
UTC = dt.UTC

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def lima(text: str) -> dt.datetime:
    """An instant given as Lima wall-clock time, e.g. '2026-03-09 23:30'."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=LIMA)


# --- which days are business days ---------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "weekday"),
    [("2026-03-07", SAT), ("2026-03-08", SUN), ("2026-10-31", SAT), ("2027-01-03", SUN)],
)
def test_weekends_are_not_business_days(day, weekday):
    assert d(day).weekday() == weekday
    assert not NATIONAL.is_business_day(d(day))
    assert NATIONAL.non_working_reason(d(day)) == "weekend"


@pytest.mark.parametrize(
    ("day", "weekday"),
    [
        ("2026-03-09", MON),
        ("2026-03-10", TUE),
        ("2026-03-11", WED),
        ("2026-03-12", THU),
        ("2026-03-13", FRI),
    ],
)
def test_ordinary_weekdays_are_business_days(day, weekday):
    assert d(day).weekday() == weekday
    assert NATIONAL.is_business_day(d(day))
    assert NATIONAL.non_working_reason(d(day)) is None


@pytest.mark.parametrize(
    ("day", "weekday"),
    [
        ("2026-01-01", THU),  # Año Nuevo
        ("2026-04-02", THU),  # Jueves Santo
        ("2026-04-03", FRI),  # Viernes Santo
        ("2026-05-01", FRI),  # Día del Trabajo
        ("2026-06-29", MON),  # San Pedro y San Pablo
        ("2026-07-28", TUE),  # Fiestas Patrias
        ("2026-07-29", WED),  # Fiestas Patrias (Gran Parada Militar)
        ("2026-12-08", TUE),  # Inmaculada Concepción
        ("2026-12-25", FRI),  # Navidad
        ("2027-08-30", MON),  # Santa Rosa de Lima (a Sunday in 2026, so 2027 is used)
    ],
)
def test_peru_national_holidays_on_weekdays_are_not_business_days(day, weekday):
    assert d(day).weekday() == weekday
    assert d(day) in holidays.country_holidays("PE", years=d(day).year)
    assert not NATIONAL.is_business_day(d(day))
    assert NATIONAL.non_working_reason(d(day)) == "national holiday"


def test_a_holiday_on_a_sunday_is_simply_a_weekend_day():
    # 7 June 2026 (Día de la Bandera) and 30 August 2026 (Santa Rosa) fall on Sundays.
    for day in (d("2026-06-07"), d("2026-08-30")):
        assert day.weekday() == SUN
        assert not NATIONAL.is_business_day(day)
    # The Monday after is an ordinary business day: Peru does not move these holidays.
    assert NATIONAL.is_business_day(d("2026-06-08"))
    assert NATIONAL.is_business_day(d("2026-08-31"))


def test_public_sector_non_working_day_2026_01_02_is_not_a_business_day():
    day = d("2026-01-02")
    assert day.weekday() == FRI
    # Not a holiday: it comes from the decreed national calendar (DS 042-2025-PCM).
    assert day not in holidays.country_holidays("PE", years=2026)
    assert not NATIONAL.is_business_day(day)
    assert NATIONAL.non_working_reason(day) == "public-sector non-working day"


def test_agency_closure_is_not_a_business_day_for_that_agency_only():
    closure = d("2026-04-24")
    assert closure.weekday() == FRI
    agency = BusinessCalendar.for_closures([closure])
    assert not agency.is_business_day(closure)
    assert agency.non_working_reason(closure) == "agency closure"
    assert NATIONAL.is_business_day(closure)
    # The days around it stay business days for the agency.
    assert agency.is_business_day(d("2026-04-23"))
    assert agency.is_business_day(d("2026-04-27"))


def test_for_closures_keeps_the_cutoff():
    calendar = BusinessCalendar.for_closures([], dt.time(16, 30))
    assert calendar.office_hours.cutoff == dt.time(16, 30)
    assert BusinessCalendar.for_closures([]).office_hours.cutoff is None


# --- counting terms ---------------------------------------------------------------------


def test_zero_days_returns_the_start_itself():
    assert NATIONAL.add_business_days(d("2026-03-10"), 0) == d("2026-03-10")
    # Even when the start is not a business day.
    assert NATIONAL.add_business_days(d("2026-03-07"), 0) == d("2026-03-07")


def test_the_start_day_never_counts():
    # Tuesday 10 March 2026 + 1 business day = Wednesday 11, not Tuesday 10.
    assert d("2026-03-10").weekday() == TUE
    assert NATIONAL.add_business_days(d("2026-03-10"), 1) == d("2026-03-11")
    # Monday 9 + 5 = Monday 16 (10, 11, 12, 13, 16).
    assert NATIONAL.add_business_days(d("2026-03-09"), 5) == d("2026-03-16")


def test_a_term_starting_on_a_weekend_counts_from_the_next_business_day():
    # Saturday 7 March + 1 = Monday 9.
    assert NATIONAL.add_business_days(d("2026-03-07"), 1) == d("2026-03-09")


def test_a_term_crossing_a_weekend_and_holidays():
    # Friday 4 December 2026 + 5: Sat 5 and Sun 6 skipped, Mon 7 (1), Tue 8 Inmaculada and
    # Wed 9 Batalla de Ayacucho skipped, Thu 10 (2), Fri 11 (3), Mon 14 (4), Tue 15 (5).
    assert d("2026-12-04").weekday() == FRI
    assert d("2026-12-15").weekday() == TUE
    assert NATIONAL.add_business_days(d("2026-12-04"), 5) == d("2026-12-15")


def test_a_term_crossing_new_year_and_the_decreed_non_working_day():
    # Wednesday 31 December 2025 + 2: Thu 1 Jan holiday, Fri 2 Jan decreed non-working,
    # Sat 3 / Sun 4 weekend, Mon 5 (1), Tue 6 (2).
    assert d("2025-12-31").weekday() == WED
    assert NATIONAL.add_business_days(d("2025-12-31"), 2) == d("2026-01-06")


def test_a_term_crossing_an_agency_closure():
    # Thursday 23 April 2026 + 1 with a closure on Friday 24: Mon 27.
    agency = BusinessCalendar.for_closures([d("2026-04-24")])
    assert agency.add_business_days(d("2026-04-23"), 1) == d("2026-04-27")
    assert NATIONAL.add_business_days(d("2026-04-23"), 1) == d("2026-04-24")


def test_next_business_day_is_strictly_after():
    assert NATIONAL.next_business_day(d("2026-03-09")) == d("2026-03-10")
    # Friday 24 July 2026 -> Monday 27.
    assert NATIONAL.next_business_day(d("2026-07-24")) == d("2026-07-27")
    # Monday 27 July -> Thursday 30 (28 and 29 are Fiestas Patrias).
    assert NATIONAL.next_business_day(d("2026-07-27")) == d("2026-07-30")


def test_negative_days_raise_value_error():
    with pytest.raises(ValueError, match="negative"):
        NATIONAL.add_business_days(d("2026-03-10"), -1)


# --- date of receipt ---------------------------------------------------------------------


def test_filing_late_at_night_on_a_business_day_counts_that_day_without_cutoff():
    at = lima("2026-03-09 23:30")
    assert at.date().weekday() == MON
    assert NATIONAL.reception_date(at) == d("2026-03-09")


def test_filing_at_23_59_counts_that_day_without_cutoff():
    assert NATIONAL.reception_date(lima("2026-03-09 23:59:59")) == d("2026-03-09")


def test_filing_after_the_cutoff_counts_the_next_business_day():
    calendar = BusinessCalendar.for_closures([], dt.time(16, 30))
    assert calendar.reception_date(lima("2026-03-09 16:31")) == d("2026-03-10")


def test_filing_before_the_cutoff_counts_the_same_day():
    calendar = BusinessCalendar.for_closures([], dt.time(16, 30))
    assert calendar.reception_date(lima("2026-03-09 16:29")) == d("2026-03-09")


def test_filing_after_the_cutoff_on_friday_counts_on_monday():
    calendar = BusinessCalendar.for_closures([], dt.time(16, 30))
    assert d("2026-03-13").weekday() == FRI
    assert calendar.reception_date(lima("2026-03-13 17:00")) == d("2026-03-16")


def test_filing_on_saturday_counts_on_monday():
    at = lima("2026-03-07 10:00")
    assert at.date().weekday() == SAT
    assert NATIONAL.reception_date(at) == d("2026-03-09")


def test_filing_on_saturday_before_a_monday_holiday_counts_on_tuesday():
    # Saturday 27 June 2026; Monday 29 June is San Pedro y San Pablo.
    at = lima("2026-06-27 09:00")
    assert at.date().weekday() == SAT
    assert NATIONAL.reception_date(at) == d("2026-06-30")


def test_filing_on_a_holiday_counts_the_next_business_day():
    # Tuesday 28 July 2026 at 09:00: 29 is also a holiday, so Thursday 30.
    assert NATIONAL.reception_date(lima("2026-07-28 09:00")) == d("2026-07-30")


def test_filing_on_an_agency_closure_counts_the_next_business_day():
    agency = BusinessCalendar.for_closures([d("2026-04-24")])
    assert agency.reception_date(lima("2026-04-24 10:00")) == d("2026-04-27")


def test_utc_instants_are_converted_to_lima_time():
    # 03:00 UTC on Tuesday 10 March is 22:00 on Monday 9 March in Lima (UTC-5).
    at = dt.datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
    assert at.astimezone(LIMA) == lima("2026-03-09 22:00")
    assert NATIONAL.reception_date(at) == d("2026-03-09")
    # With a 16:30 cut-off, 22:00 in Lima is late: it counts on Tuesday 10.
    calendar = BusinessCalendar.for_closures([], dt.time(16, 30))
    assert calendar.reception_date(at) == d("2026-03-10")


def test_utc_afternoon_is_still_before_a_lima_cutoff():
    # 21:29 UTC is 16:29 in Lima: before the cut-off, same day.
    calendar = BusinessCalendar.for_closures([], dt.time(16, 30))
    at = dt.datetime(2026, 3, 9, 21, 29, tzinfo=UTC)
    assert calendar.reception_date(at) == d("2026-03-09")


# --- the ``tambo plazo`` command ------------------------------------------------------------


def test_plazo_prints_one_date_line():
    # Friday 24 July 2026 + 3: Sat 25 / Sun 26 weekend, Mon 27 (1), Tue 28 and Wed 29
    # Fiestas Patrias, Thu 30 (2), Fri 31 (3).
    assert d("2026-07-24").weekday() == FRI
    out = io.StringIO()
    call_command("plazo", "--from", "2026-07-24", "--days", "3", stdout=out)
    assert out.getvalue() == "2026-07-31\n"


def test_plazo_with_zero_days_prints_the_start():
    out = io.StringIO()
    call_command("plazo", "--from", "2026-07-24", "--days", "0", stdout=out)
    assert out.getvalue() == "2026-07-24\n"


@pytest.mark.parametrize("bad", ["2026-02-30", "24/07/2026", "mañana"])
def test_plazo_rejects_a_bad_date(bad):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("plazo", "--from", bad, "--days", "3", stdout=io.StringIO())


def test_plazo_rejects_negative_days():
    with pytest.raises(CommandError):
        call_command("plazo", "--from", "2026-07-24", "--days", "-1", stdout=io.StringIO())


def test_plazo_counts_the_agency_closures(catalog):
    # MDSI (catalog/agencies/MDSI.yaml) closes on Friday 24 April 2026. From Thursday 23,
    # one business day is Friday 24 nationally but Monday 27 for MDSI.
    assert d("2026-04-23").weekday() == THU
    national = io.StringIO()
    call_command("plazo", "--from", "2026-04-23", "--days", "1", stdout=national)
    assert national.getvalue() == "2026-04-24\n"
    mdsi = io.StringIO()
    call_command("plazo", "--from", "2026-04-23", "--days", "1", "--agency", "MDSI", stdout=mdsi)
    assert mdsi.getvalue() == "2026-04-27\n"


def test_plazo_counts_the_municipal_workers_day_for_mdsi(catalog):
    # MDSI also closes on Thursday 5 November 2026 (Ley 31701). From Wednesday 4: Friday 6.
    assert d("2026-11-04").weekday() == WED
    out = io.StringIO()
    call_command("plazo", "--from", "2026-11-04", "--days", "1", "--agency", "MDSI", stdout=out)
    assert out.getvalue() == "2026-11-06\n"


def test_plazo_rejects_an_unknown_agency(catalog):
    with pytest.raises(CommandError, match="unknown agency"):
        call_command(
            "plazo", "--from", "2026-04-23", "--days", "1", "--agency", "NOPE", stdout=io.StringIO()
        )


# --- property: the result is the days-th business day after start --------------------------


def _decreed_days() -> set[dt.date]:
    entries = yaml.safe_load(settings.TAMBO_NATIONAL_CALENDAR.read_text(encoding="utf-8"))
    return {entry["date"] for entry in entries}


_PE_HOLIDAYS = holidays.country_holidays("PE", years=range(2025, 2029))
_DECREED = _decreed_days()


def _is_business_day(day: dt.date) -> bool:
    """An oracle written from the rule, independent of BusinessCalendar."""
    return day.weekday() < 5 and day not in _PE_HOLIDAYS and day not in _DECREED


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    start=st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2027, 12, 31)),
    days=st.integers(min_value=0, max_value=60),
)
def test_add_business_days_counts_exactly_days_business_days(start, days):
    result = NATIONAL.add_business_days(start, days)
    if days == 0:
        assert result == start
        return
    assert result > start
    assert _is_business_day(result)
    between = [
        start + dt.timedelta(days=i) for i in range(1, (result - start).days + 1)
    ]  # (start, result]
    assert sum(_is_business_day(day) for day in between) == days
