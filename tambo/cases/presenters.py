"""What pages and the receipt show about an expediente, in the user's language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from tambo.catalog.models import ProcedureVersion
from tambo.catalog.texts import localize

from .models import Document, Filing, answers_removed
from .queries import TimelineEvent


@dataclass(frozen=True)
class AnswerRow:
    name: str
    label: str
    value: str


def answer_rows(
    version: ProcedureVersion, answers: dict[str, Any], documents: list[Document]
) -> list[AnswerRow]:
    from tambo.catalog.presenters import obtained_owners

    by_field = {d.field_name: d for d in documents}
    owners = obtained_owners(version.file)
    rows = []
    if answers_removed(answers):
        removed = _("eliminado al vencer su plazo de conservación")
        return [AnswerRow(f.name, localize(f.label), removed) for f in version.file.form]
    for field in version.file.form:
        value = answers.get(field.name)
        if field.type == "file":
            doc = by_field.get(field.name)
            shown = doc.original_name if doc else ""
            if not doc and field.name in owners:
                shown = _("No necesita subirlo: lo obtendremos de %(agency)s al presentar.") % {
                    "agency": owners[field.name]
                }
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
    # Assisted filing: "filed by <intermediary> at <service centre> for <citizen>".
    filed_by: str = ""
    filed_at: str = ""
    filed_for: str = ""
    evidence: tuple[EvidenceRow, ...] = ()


@dataclass(frozen=True)
class EvidenceRow:
    """An obtained requirement as the receipt and the case pages show it."""

    requirement: str
    name: str
    provider: str
    service: str
    status: str
    status_label: str
    obtained_at: Any
    attempts: int
    last_error: str
    can_upload: bool


def evidence_rows(filing: Filing) -> tuple[EvidenceRow, ...]:
    spec = filing.procedure_version.file
    obtained = spec.obtained_requirements()
    if not obtained:  # most procedures: no query for evidence that cannot exist
        return ()
    names = {r.id: (localize(r.name), bool(r.field)) for r in obtained}
    return tuple(
        EvidenceRow(
            requirement=e.requirement,
            name=names.get(e.requirement, (e.requirement, False))[0],
            provider=e.provider,
            service=f"{e.service}/{e.version}",
            status=e.status,
            status_label=str(e.get_status_display()),
            obtained_at=e.obtained_at,
            attempts=e.attempts,
            last_error=e.last_error,
            can_upload=names.get(e.requirement, ("", False))[1]
            and e.status in ("failed", "pending"),
        )
        for e in filing.evidence.order_by("pk")
    )


def filing_view(filing: Filing) -> FilingView:
    return FilingView(
        filing=filing,
        number=filing.number,
        procedure_name=localize(filing.procedure_version.file.name),
        agency_name=filing.agency.name,
        status=filing.status,
        status_label=state_label(filing),
        documents=list(filing.documents.all()),
        evidence=evidence_rows(filing),
        **_assisted(filing),
    )


def _assisted(filing: Filing) -> dict[str, str]:
    if not filing.filed_by_id:
        return {}
    citizen = filing.citizen
    consent = filing.consent
    return {
        "filed_by": filing.filed_by.display_name,
        "filed_at": consent.unit.name if consent else "",
        "filed_for": f"{citizen.display_name} ({citizen.get_document_type_display()} "
        f"{citizen.document_number})",
    }


def state_label(filing: Filing, state_id: str | None = None) -> str:
    workflow = filing.procedure_version.workflow
    state_id = state_id or filing.status
    try:
        return localize(workflow.state(state_id).label)
    except StopIteration:
        return state_id


EVENT_TITLES = {
    "filing.submitted": N_("Presentado y recibido"),
    "filing.document_added": N_("Documento agregado"),
    "filing.negative_silence": N_("Plazo vencido: puede considerar denegada su solicitud y apelar"),
}


@dataclass(frozen=True)
class TimelineRow:
    at: Any
    title: str
    detail: str
    document: str = ""


def timeline_rows(
    filing: Filing, events: list[TimelineEvent], *, internal: bool = False
) -> list[TimelineRow]:
    """Rows for the history of a case; ``internal`` (officials) adds reports and roles."""
    workflow = filing.procedure_version.workflow
    rows = []
    for event in events:
        data = event.data
        if event.action == "filing.transition":
            transition = workflow.transition(data.get("transition", ""))
            title = localize(transition.label) if transition else data.get("transition", "")
            title = f"{title} → {state_label(filing, data.get('to'))}"
            detail = data.get("reason", "")
            if internal and data.get("report"):
                detail = f"{detail}\n{_('Informe')}: {data['report']}".strip()
            rows.append(TimelineRow(event.at, title, detail, data.get("document", "")))
        elif event.action in EVENT_TITLES:
            rows.append(TimelineRow(event.at, _(EVENT_TITLES[event.action]), ""))
        elif internal:
            rows.append(TimelineRow(event.at, event.action, str(data.get("reason", ""))))
    return rows
