"""Reads of the catalogue: agencies, their calendars, procedure search and detail."""

from __future__ import annotations

import time

from django.db.models import QuerySet

from tambo.core.calendar import BusinessCalendar

from .models import Agency, Procedure, ProcedureVersion, Topic
from .texts import fold

MAX_SEARCH_RESULTS = 50


def get_agency(code: str) -> Agency | None:
    return Agency.objects.filter(code=code).first()


CLOSURES_TTL_SECONDS = 60
_closures: dict[int, tuple[float, frozenset]] = {}


def agency_calendar(agency: Agency) -> BusinessCalendar:
    """The agency's business-day calendar: national rules plus its own closures.

    Closures are read at most once a minute per process: they are published days ahead,
    and reading them on every filing would cost a query each time.
    """
    now = time.monotonic()
    cached = _closures.get(agency.pk)
    if cached is None or now - cached[0] > CLOSURES_TTL_SECONDS:
        cached = (now, frozenset(agency.closures.values_list("date", flat=True)))
        _closures[agency.pk] = cached
    return BusinessCalendar.for_closures(cached[1], agency.filing_cutoff)


def forget_closures() -> None:
    """Drop cached closures (after loading agency files, and in tests)."""
    _closures.clear()


def published_procedures() -> QuerySet[Procedure]:
    # The version's spec is not loaded: its parsed file is cached by version id.
    return (
        Procedure.objects.filter(is_active=True, current_version__isnull=False)
        .select_related("agency", "current_version")
        .defer("current_version__spec", "search_text")
        .order_by("name", "pk")
    )


def search_procedures(
    query: str = "",
    *,
    agency: str | None = None,
    topic: str | None = None,
    limit: int = MAX_SEARCH_RESULTS,
) -> list[Procedure]:
    """Procedures whose text contains every word of ``query``, ignoring accents and case."""
    qs = published_procedures()
    for word in fold(query).split()[:8]:
        qs = qs.filter(search_text__contains=word)
    if agency:
        qs = qs.filter(agency__code=agency)
    if topic:
        qs = qs.filter(topics__slug=topic)
    # Only what a result line shows: building full rows costs more than the query itself.
    qs = qs.only("pk", "code", "name", "agency__code", "agency__name", "current_version__term_days")
    return list(qs[:limit])


def get_procedure(agency_code: str, code: str) -> Procedure | None:
    return published_procedures().filter(agency__code=agency_code, code=code).first()


def get_version(version_id: int) -> ProcedureVersion | None:
    return (
        ProcedureVersion.objects.select_related("procedure__agency").filter(pk=version_id).first()
    )


def agencies() -> QuerySet[Agency]:
    return Agency.objects.order_by("name")


def topics_in_use() -> QuerySet[Topic]:
    return Topic.objects.filter(procedures__is_active=True).distinct().order_by("name")
