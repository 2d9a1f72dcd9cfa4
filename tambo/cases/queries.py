"""Reads of drafts and expedientes for citizens and the public status lookup."""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db.models import QuerySet

from tambo.core import audit
from tambo.identity import policy

from .models import Draft, Filing

PAGE_SIZE = 20
TIMELINE_ACTIONS = {
    "filing.submitted",
    "filing.transition",
    "filing.document_added",
    "filing.negative_silence",
}
INTERNAL_ACTIONS = TIMELINE_ACTIONS | {
    "filing.taken",
    "filing.assigned",
    "filing.due_soon",
    "filing.overdue",
}


def filings_of(citizen: Any) -> QuerySet[Filing]:
    policy.require(citizen, "filing.list_own")
    return Filing.objects.filter(citizen=citizen).select_related(
        "agency", "procedure_version__procedure"
    )


def my_filings_page(citizen: Any, before: tuple[dt.datetime, int] | None = None) -> list[Filing]:
    """A page of the citizen's expedientes, newest first, paginated by key (not OFFSET)."""
    qs = filings_of(citizen).order_by("-submitted_at", "-pk")
    if before is not None:
        at, pk = before
        qs = qs.filter(submitted_at__lt=at) | qs.filter(submitted_at=at, pk__lt=pk)
    return list(qs[:PAGE_SIZE])


def my_drafts(citizen: Any) -> list[Draft]:
    return list(
        Draft.objects.filter(citizen=citizen, filing__isnull=True)
        .select_related("procedure_version__procedure__agency")
        .order_by("-updated_at")[:50]
    )


def get_draft(citizen: Any, draft_id: Any) -> Draft:
    draft = (
        Draft.objects.select_related("procedure_version__procedure__agency")
        .filter(pk=draft_id)
        .first()
    )
    policy.require(citizen, "draft.view", draft)
    return draft  # type: ignore[return-value]


def get_filing(user: Any, number: str) -> Filing:
    filing = (
        Filing.objects.select_related("agency", "procedure_version__procedure", "citizen")
        .filter(number=number)
        .first()
    )
    policy.require(user, "filing.view", filing)
    return filing  # type: ignore[return-value]


def filing_by_access_code(number: str, code: str) -> Filing | None:
    """The expediente if the access code matches (constant-time), else ``None``."""
    filing = (
        Filing.objects.select_related("agency", "procedure_version__procedure")
        .filter(number=number.strip().upper())
        .first()
    )
    if filing is None or not hmac.compare_digest(filing.access_code, code.strip().upper()):
        return None
    return filing


@dataclass(frozen=True)
class TimelineEvent:
    at: dt.datetime
    action: str
    data: dict[str, Any]


def timeline(filing: Filing, *, internal: bool = False) -> list[TimelineEvent]:
    """What happened to the expediente, oldest first, from the audit log."""
    actions = INTERNAL_ACTIONS if internal else TIMELINE_ACTIONS
    return [
        TimelineEvent(e.at, e.action, e.data)
        for e in audit.history("filing", filing.number, actions)
    ]


def issued_documents(filing: Filing) -> list[Any]:
    """Signed documents issued for the expediente (resolutions, certificates, receipt)."""
    from tambo.documents.models import IssuedDocument

    return list(
        IssuedDocument.objects.filter(subject_type="filing", subject_id=filing.number).order_by(
            "issued_at"
        )
    )


APPROVED_STATES = ("approved", "approved_by_silence")


class GrantedRecord(NamedTuple):
    """One line of an agency's register of what it granted."""

    number: str
    procedure: str
    decided_at: dt.datetime | None


def approved_filings_of(
    agency_code: str, document_type: str, document_number: str, *, procedure_prefix: str = ""
) -> list[GrantedRecord]:
    """Expedientes of an agency approved for the holder of a document (the agency's register
    of what it granted, as other agencies may ask for it through the exchange), newest first.

    Only the three columns the register shows are read: another agency's call should not
    load each expediente with its procedure version's whole file (that was most of the
    exchange provider's time)."""
    rows = (
        Filing.objects.filter(
            agency__code=agency_code,
            citizen__document_type=document_type,
            citizen__document_number=document_number,
            status__in=APPROVED_STATES,
            procedure_version__procedure__code__startswith=procedure_prefix,
        )
        .order_by("-decided_at", "-id")
        .values_list("number", "procedure_version__procedure__code", "decided_at")[:100]
    )
    return [GrantedRecord(*row) for row in rows]
