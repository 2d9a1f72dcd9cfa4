"""Reads for the citizen: their access log (by key, never OFFSET) and their requests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from tambo.core import clock
from tambo.core.errors import DomainError
from tambo.identity import policy

from .models import AccessEntry, CorrectionRequest

PAGE_SIZE = 30


def visible_to_citizen(today: dt.date | None = None) -> Q:
    """Entries not under a legal reserve that is still in force today."""
    today = today or clock.local_now().date()
    return Q(withheld_until__isnull=True) | Q(withheld_until__lt=today)


def accesses_of(citizen: Any) -> QuerySet[AccessEntry]:
    policy.require(citizen, "access.list_own")
    return AccessEntry.objects.filter(visible_to_citizen(), citizen=citizen)


def parse_cursor(cursor: str | None) -> tuple[dt.datetime, int] | None:
    """A cursor is ``<at ISO>_<id>`` of the last entry of the previous page."""
    if not cursor:
        return None
    try:
        at_text, pk_text = cursor.rsplit("_", 1)
        at = dt.datetime.fromisoformat(at_text)
        if at.tzinfo is None:
            raise ValueError
        return at, int(pk_text)
    except ValueError:
        raise DomainError(
            _("Cursor de página no válido."), code="invalid_cursor", field="before"
        ) from None


def access_page(
    citizen: Any, before: tuple[dt.datetime, int] | None = None, limit: int = PAGE_SIZE
) -> tuple[list[AccessEntry], str | None]:
    """Newest first, by the key (at, id); returns the rows and the cursor of the next page."""
    qs = accesses_of(citizen)
    if before is not None:
        at, pk = before
        qs = qs.filter(Q(at__lt=at) | Q(at=at, pk__lt=pk))
    rows = list(qs.order_by("-at", "-pk")[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = f"{rows[-1].at.isoformat()}_{rows[-1].pk}"
    return rows, next_cursor


def my_corrections(citizen: Any) -> list[CorrectionRequest]:
    policy.require(citizen, "correction.list_own")
    return list(CorrectionRequest.objects.filter(citizen=citizen).order_by("-created_at")[:50])
