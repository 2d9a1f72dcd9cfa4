"""Official and citizen workflow endpoints: queues, case detail, transitions, take, assign."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest
from ninja import Router, Schema

from tambo.catalog.texts import localize
from tambo.core.errors import ValidationFailed
from tambo.identity import policy
from tambo.privacy.access import record_filing_access

from . import office_queries as oq
from . import queries, transitions
from .api import EventOut, FilingDetailOut, _events, _filing
from .presenters import state_label

router = Router(tags=["back office"])


class QueueOut(Schema):
    unit_id: int
    unit: str
    role: str
    open: int
    url: str


class QueueItemOut(Schema):
    number: str
    procedure: str
    status: str
    status_label: str
    due_on: dt.date
    light: str
    assignee: str | None
    lock_version: int


class QueuePageOut(Schema):
    items: list[QueueItemOut]
    next: str | None


class TransitionIn(Schema):
    reason: str = ""
    report: str = ""
    expected_version: int | None = None


class AvailableOut(Schema):
    id: str
    label: str
    requires: list[str]


class OfficeFilingOut(FilingDetailOut):
    unit: str
    light: str
    assignee: str | None
    lock_version: int
    correction_due_on: dt.date | None
    available: list[AvailableOut]
    history: list[EventOut]


class AssignIn(Schema):
    assignee: str
    reason: str


@router.get("/office/queues", response=list[QueueOut])
def my_queues(request: HttpRequest) -> Any:
    """My work queues (none for someone who is not an official)."""
    if not policy.allows(request.user, "office.view"):
        return []
    return [
        {
            "unit_id": q.unit.pk,
            "unit": q.unit.name,
            "role": q.role,
            "open": oq.queue_size(q),
            "url": f"/api/v1/office/queues/{q.unit.pk}/{q.role}",
        }
        for q in oq.my_queues(request.user)
    ]


@router.get("/office/queues/{unit_id}/{role}", response=QueuePageOut)
def queue_page(
    request: HttpRequest,
    unit_id: int,
    role: str,
    procedure: str | None = None,
    state: str | None = None,
    light: str | None = None,
    after: str | None = None,
) -> Any:
    """A page of the queue ordered by deadline; pass ``next`` back as ``after`` for the next page."""
    q = oq.get_queue(request.user, unit_id, role)
    if light is not None and light not in oq.LIGHTS:
        raise ValidationFailed({"light": "Use on_time, due_soon or overdue."})
    rows, next_cursor = oq.page(
        q, procedure=procedure, state=state, light=light, after=oq.parse_cursor(after)
    )
    return {
        "items": [
            {
                "number": f.number,
                "procedure": f.procedure_version.procedure.code,
                "status": f.status,
                "status_label": state_label(f),
                "due_on": f.due_on,
                "light": oq.deadline_light(f),
                "assignee": f.assignee.username if f.assignee else None,
                "lock_version": f.lock_version,
            }
            for f in rows
        ],
        "next": next_cursor,
    }


def _office_detail(request: HttpRequest, filing: Any) -> dict[str, Any]:
    """The case for its officials; answering it records the access in the citizen's log."""
    record_filing_access(request.user, filing, [("filing", "")])
    roles = policy.official_roles(request.user, filing)
    workflow = filing.procedure_version.workflow
    available = [t for t in workflow.available(filing.status) if roles & set(t.by)]
    history = [
        {"at": e.at, "title": e.action, "detail": str(e.data.get("reason", ""))}
        for e in queries.timeline(filing, internal=True)
    ]
    return {
        **_filing(filing),
        "answers": filing.answers,
        "timeline": _events(filing),
        "unit": filing.unit.code,
        "light": oq.deadline_light(filing),
        "assignee": filing.assignee.username if filing.assignee else None,
        "lock_version": filing.lock_version,
        "correction_due_on": filing.correction_due_on,
        "available": [
            {"id": t.id, "label": localize(t.label), "requires": t.requires} for t in available
        ],
        "history": history,
    }


@router.get("/office/filings/{number}", response=OfficeFilingOut)
def office_filing(request: HttpRequest, number: str) -> Any:
    return _office_detail(request, oq.office_filing(request.user, number))


@router.post("/filings/{number}/transitions/{transition_id}", response=FilingDetailOut)
def take_transition(
    request: HttpRequest, number: str, transition_id: str, payload: TransitionIn
) -> Any:
    """Take a workflow transition (officials by role, the citizen for correct/withdraw/appeal).

    409 ``transition_not_allowed`` in the wrong state, 403 ``forbidden`` for the wrong role,
    409 ``stale_version`` if ``expected_version`` no longer matches.
    """
    filing = transitions.take(
        request.user,
        number,
        transition_id,
        transitions.TransitionInput(
            reason=payload.reason, report=payload.report, expected_version=payload.expected_version
        ),
    )
    record_filing_access(request.user, filing, [("filing", "")])
    return {**_filing(filing), "answers": filing.answers, "timeline": _events(filing)}


@router.post("/office/filings/{number}/take", response=OfficeFilingOut)
def take_case(request: HttpRequest, number: str) -> Any:
    transitions.take_case(request.user, number)
    return _office_detail(request, oq.office_filing(request.user, number))


@router.post("/office/filings/{number}/assign", response=OfficeFilingOut)
def assign(request: HttpRequest, number: str, payload: AssignIn) -> Any:
    assignee = get_user_model().objects.filter(username=payload.assignee).first()
    if assignee is None:
        raise ValidationFailed({"assignee": "Unknown user."})
    transitions.assign(request.user, number, assignee, payload.reason)
    return _office_detail(request, oq.office_filing(request.user, number))
