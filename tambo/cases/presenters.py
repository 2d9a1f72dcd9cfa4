"""What pages and the receipt show about an expediente, in the user's language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from tambo.catalog.models import ProcedureVersion
from tambo.catalog.texts import localize

from .models import Document, Filing, FilingStatus
from .queries import TimelineEvent


@dataclass(frozen=True)
class AnswerRow:
    name: str
    label: str
    value: str


def answer_rows(
    version: ProcedureVersion, answers: dict[str, Any], documents: list[Document]
) -> list[AnswerRow]:
    by_field = {d.field_name: d for d in documents}
    rows = []
    for field in version.file.form:
        value = answers.get(field.name)
        if field.type == "file":
            doc = by_field.get(field.name)
            shown = doc.original_name if doc else ""
        elif field.type == "yes_no" and value is not None:
            shown = _("Sí") if value else _("No")
        elif field.type == "choice" and value is not None:
            shown = next(
                (localize(c.label) for c in field.choices or [] if c.value == value), str(value)
            )
        else:
            shown = "" if value is None else str(value)
        rows.append(AnswerRow(field.name, localize(field.label), shown or _("(no indicado)")))
    return rows


@dataclass(frozen=True)
class FilingView:
    filing: Filing
    number: str
    procedure_name: str
    agency_name: str
    status: str
    status_label: str
    documents: list[Document]


def filing_view(filing: Filing) -> FilingView:
    return FilingView(
        filing=filing,
        number=filing.number,
        procedure_name=localize(filing.procedure_version.file.name),
        agency_name=filing.agency.name,
        status=filing.status,
        status_label=str(FilingStatus(filing.status).label),
        documents=list(filing.documents.all()),
    )


EVENT_TITLES = {
    "filing.submitted": N_("Presentado y recibido"),
    "filing.document_added": N_("Documento agregado"),
}


@dataclass(frozen=True)
class TimelineRow:
    at: Any
    title: str
    detail: str


def timeline_rows(events: list[TimelineEvent]) -> list[TimelineRow]:
    rows = []
    for event in events:
        if event.action == "filing.status_changed":
            title = (
                str(FilingStatus(event.data["to"]).label)
                if event.data.get("to") in FilingStatus.values
                else event.data.get("to", "")
            )
            detail = event.data.get("note", "")
        else:
            title = _(EVENT_TITLES.get(event.action, event.action))
            detail = ""
        rows.append(TimelineRow(event.at, title, detail))
    return rows
