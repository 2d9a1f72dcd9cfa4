"""Reads for officials: their queues, ordered by legal deadline, paginated by key."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from tambo.catalog.models import OrgUnit
from tambo.core import clock
from tambo.core.errors import DomainError
from tambo.core.replica import dashboard_alias
from tambo.identity import policy

from .models import Filing

PAGE_SIZE = 25
LIGHTS = ("on_time", "due_soon", "overdue")


@dataclass(frozen=True)
class Queue:
    unit: OrgUnit
    role: str

    @property
    def key(self) -> str:
        return f"{self.unit.pk}/{self.role}"


def my_queues(user: Any) -> list[Queue]:
    """The queues of the roles the user holds today (appointed or delegated)."""
    return [
        Queue(g.unit, g.role)
        for g in policy.grants(user)
        if g.role not in policy.NON_OFFICE_ROLES  # intermediaries have no work queue
    ]


def get_queue(user: Any, unit_id: int, role: str) -> Queue:
    unit = next((g.unit for g in policy.grants(user) if g.unit_id == unit_id), None)
    queue = Queue(unit, role) if unit is not None else None
    policy.require(user, "queue.view", queue)
    return queue  # type: ignore[return-value]


def _base(queue: Queue) -> QuerySet[Filing]:
    # Queues tolerate a replica's lag; who may see the queue was checked on the primary.
    qs = Filing.objects.using(dashboard_alias()).filter(is_open=True)
    if queue.role == "front_desk":
        return qs.filter(agency_id=queue.unit.agency_id, handled_by="front_desk")
    if queue.role == "supervisor":
        return qs.filter(unit_id=queue.unit.pk)
    return qs.filter(unit_id=queue.unit.pk, handled_by=queue.role)


def queue_size(queue: Queue) -> int:
    """How many open expedientes the queue holds."""
    return _base(queue).count()


def light_filter(light: str, today: dt.date) -> Q:
    if light == "overdue":
        return Q(term_running=True, due_on__lt=today)
    if light == "due_soon":
        return Q(term_running=True, due_soon_on__lte=today, due_on__gte=today)
    if light == "on_time":
        return Q(term_running=True, due_soon_on__gt=today)
    raise DomainError(_("Semáforo desconocido."), code="invalid_filter", field="light")


def parse_cursor(cursor: str | None) -> tuple[dt.date, int] | None:
    if not cursor:
        return None
    try:
        day, pk = cursor.split("_", 1)
        return dt.date.fromisoformat(day), int(pk)
    except ValueError:
        raise DomainError(
            _("Cursor de página no válido."), code="invalid_cursor", field="after"
        ) from None


def page(
    queue: Queue,
    *,
    procedure: str | None = None,
    state: str | None = None,
    light: str | None = None,
    after: tuple[dt.date, int] | None = None,
    today: dt.date | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[Filing], str | None]:
    """One page of the queue ordered by (due_on, id); returns the rows and the next cursor."""
    today = today or clock.local_now().date()
    qs = _base(queue)
    if procedure:
        qs = qs.filter(procedure_version__procedure__code=procedure)
    if state:
        qs = qs.filter(status=state)
    if light:
        qs = qs.filter(light_filter(light, today))
    if after is not None:
        day, pk = after
        qs = qs.filter(Q(due_on__gt=day) | Q(due_on=day, pk__gt=pk))
    rows = list(
        qs.select_related("procedure_version__procedure", "assignee", "agency")
        .only(
            "pk",
            "number",
            "status",
            "due_on",
            "due_soon_on",
            "term_running",
            "received_on",
            "assignee__username",
            "assignee__first_name",
            "assignee__last_name",
            "procedure_version__spec",
            "procedure_version__procedure__code",
            "procedure_version__number",
            "agency__code",
            "lock_version",
            "handled_by",
        )
        .order_by("due_on", "pk")[: limit + 1]
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = f"{last.due_on.isoformat()}_{last.pk}"
    return rows, next_cursor


def deadline_light(filing: Filing, today: dt.date | None = None) -> str:
    """on_time, due_soon, overdue — or paused when the term is not running."""
    today = today or clock.local_now().date()
    if not filing.term_running:
        return "paused"
    if today > filing.due_on:
        return "overdue"
    if today >= filing.due_soon_on:
        return "due_soon"
    return "on_time"


def office_filing(user: Any, number: str) -> Filing:
    filing = (
        Filing.objects.select_related(
            "agency", "unit", "citizen", "assignee", "procedure_version__procedure"
        )
        .filter(number=number)
        .first()
    )
    policy.require(user, "filing.office_view", filing)
    return filing  # type: ignore[return-value]
