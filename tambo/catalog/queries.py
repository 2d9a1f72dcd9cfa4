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


def forget_cached_catalog() -> None:
    """Drop this process's cached closures and procedures (after a catalogue load, in tests)."""
    _closures.clear()
    _procedures.clear()


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


PROCEDURE_TTL_SECONDS = 30
MAX_CACHED_PROCEDURES = 20_000
_procedures: dict[tuple[str, str], tuple[float, Procedure]] = {}


def get_procedure(agency_code: str, code: str) -> Procedure | None:
    """A published procedure with its agency and current version, by agency and code.

    Every filing starts here, and building this row (three joined tables) cost a third
    of a filing's CPU, so each process keeps what it read for ``PROCEDURE_TTL_SECONDS``.
    What it holds is safe to reuse: versions are immutable, and a catalogue load in
    another process is seen here within the TTL (the case keeps the version it was
    filed under, as it would had the citizen filed a moment earlier). Only procedures
    that exist are kept, and the map is bounded, so unknown codes cannot fill memory.
    The returned object is shared: callers must not change it.
    """
    key = (agency_code, code)
    now = time.monotonic()
    cached = _procedures.get(key)
    if cached is not None and now - cached[0] <= PROCEDURE_TTL_SECONDS:
        return cached[1]
    found = list(published_procedures().filter(agency__code=agency_code, code=code).order_by()[:1])
    if not found:
        _procedures.pop(key, None)
        return None
    if len(_procedures) >= MAX_CACHED_PROCEDURES:
        _procedures.clear()
    _procedures[key] = (now, found[0])
    return found[0]


def get_version(version_id: int) -> ProcedureVersion | None:
    return (
        ProcedureVersion.objects.select_related("procedure__agency").filter(pk=version_id).first()
    )


def agencies() -> QuerySet[Agency]:
    return Agency.objects.order_by("name")


def topics_in_use() -> QuerySet[Topic]:
    return Topic.objects.filter(procedures__is_active=True).distinct().order_by("name")
