"""Take a workflow transition on an expediente: the one place where a case changes state.

Officials, citizens and the sweep all come through here (the sweep in bulk, see
``sweep.py``). A transition is refused with 409 when the current state does not allow it,
with 403 when the user's role does not, and with 409 when someone else changed the case
first. Its effects — suspend/resume/stop the term, produce a signed document, notify the
citizen, close — happen in the same transaction: if signing fails, nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.template.loader import select_template
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tambo.catalog.queries import agency_calendar
from tambo.catalog.texts import localize
from tambo.catalog.workflow import Transition, Workflow
from tambo.core import audit, clock
from tambo.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tambo.identity import policy
from tambo.identity.language import in_language_of

from . import terms
from .models import Filing

MAX_TEXT = 5000


@dataclass(frozen=True)
class TransitionInput:
    reason: str = ""
    report: str = ""
    expected_version: int | None = None


def _locked(number: str) -> Filing:
    filing = (
        Filing.objects.select_for_update(of=("self",))
        .select_related("agency", "unit", "citizen", "procedure_version__procedure")
        .filter(number=number)
        .first()
    )
    if filing is None:
        raise NotFound(_("No encontramos ese expediente."))
    return filing


def take(
    actor: Any, number: str, transition_id: str, given: TransitionInput | None = None
) -> Filing:
    """Apply ``transition_id`` to expediente ``number`` on behalf of ``actor``."""
    given = given or TransitionInput()
    with transaction.atomic():
        filing = _locked(number)
        workflow: Workflow = filing.procedure_version.workflow
        transition = workflow.transition(transition_id)
        if not policy.allows(actor, "filing.view", filing):
            raise NotFound(_("No encontramos ese expediente."))
        if transition is None or "system" in transition.by:
            raise Conflict(_("Esa acción no existe para este trámite."), code="unknown_transition")
        if given.expected_version is not None and given.expected_version != filing.lock_version:
            raise Conflict(
                _("Otra persona cambió este expediente mientras usted lo veía. Vuelva a cargarlo."),
                code="stale_version",
            )
        if filing.status not in transition.from_states and "*" not in transition.from_states:
            raise Conflict(
                _("No se puede «%(action)s» en el estado actual (%(state)s).")
                % {
                    "action": localize(transition.label),
                    "state": localize(workflow.state(filing.status).label),
                },
                code="transition_not_allowed",
            )
        role = policy.role_for_transition(actor, filing, transition.by)
        if role is None:
            raise Forbidden(
                _("Su rol no le permite «%(action)s».") % {"action": localize(transition.label)}
            )
        _check_requirements(transition, given)
        if (
            transition.id == "appeal"
            and filing.appeal_due_on
            and clock.local_now().date() > filing.appeal_due_on
        ):
            raise Conflict(
                _("El plazo para presentar un recurso venció el %(day)s.")
                % {"day": filing.appeal_due_on.isoformat()},
                code="appeal_term_expired",
            )
        via = policy.delegated_by(actor, filing, role) if role != "citizen" else None
        apply(filing, workflow, transition, actor=actor, role=role, given=given, delegated_by=via)
    return filing


def _check_requirements(transition: Transition, given: TransitionInput) -> None:
    errors = {}
    if "reason" in transition.requires and not given.reason.strip():
        errors["reason"] = _("Escriba el motivo o los fundamentos.")
    if "report" in transition.requires and not given.report.strip():
        errors["report"] = _("Escriba el informe.")
    for name, value in (("reason", given.reason), ("report", given.report)):
        if len(value) > MAX_TEXT:
            errors[name] = _("Escriba como máximo %(limit)s caracteres.") % {"limit": MAX_TEXT}
    if errors:
        raise ValidationFailed(errors)


def apply(
    filing: Filing,
    workflow: Workflow,
    transition: Transition,
    *,
    actor: Any,
    role: str,
    given: TransitionInput,
    delegated_by: int | None = None,
) -> None:
    """Change the state and apply the transition's effects (inside the caller's transaction).

    ``delegated_by`` is the official who delegated ``role`` to the actor, recorded in the audit
    entry so that a decision taken under a delegation says so.
    """
    now = clock.now()
    today = now.astimezone(clock.LIMA).date()
    calendar = agency_calendar(filing.agency)
    previous = filing.status
    target = workflow.state(transition.to)
    effects = set(transition.effects)
    if "suspend_term" in effects:
        filing.term_running = False
        filing.suspended_since = today
        filing.correction_due_on = calendar.add_business_days(
            today, filing.procedure_version.file.observation_days
        )
    if "resume_term" in effects and filing.suspended_since is not None:
        paused = terms.suspended_business_days(calendar, filing.suspended_since, today)
        filing.due_on = terms.shift(calendar, filing.due_on, paused)
        filing.due_soon_on = terms.shift(calendar, filing.due_soon_on, paused)
        filing.silence_on = terms.shift(calendar, filing.silence_on, paused)
        filing.suspended_since = None
        filing.correction_due_on = None
        filing.term_running = True
        filing.warned_due_soon_at = filing.warned_overdue_at = None
    if "stop_term" in effects or target.decision:
        filing.term_running = False
        filing.correction_due_on = None
    if target.decision:
        filing.decided_at = now
        filing.appeal_due_on = (
            calendar.add_business_days(today, workflow.appeal_days)
            if target.decision == "denied"
            else None
        )
    filing.status = target.id
    filing.handled_by = target.handled_by or ""
    filing.is_open = not target.final and "close" not in effects
    filing.lock_version += 1
    filing.updated_at = now
    document_code = ""
    if "produce_document" in effects:
        with in_language_of(filing.citizen):
            document_code = produce_document(
                filing, target.document or "resolution", transition, given, actor
            )
    filing.save()
    audit.record(
        "filing.transition",
        "filing",
        filing.number,
        actor=actor or "system",
        agency_code=filing.agency.code,
        data={
            "transition": transition.id,
            "from": previous,
            "to": target.id,
            "role": role,
            "reason": given.reason,
            "report": given.report,
            "document": document_code,
            **({"delegated_by": delegated_by} if delegated_by else {}),
        },
    )
    if "notify" in effects:
        from tambo.inbox.actions import deposit

        # The citizen reads the notice: render it in their language, not the official's.
        with in_language_of(filing.citizen):
            deposit(
                filing,
                kind=transition.id,
                title=f"{filing.number}: {localize(target.label)}",
                body=_notice_body(transition, given),
                document_code=document_code,
                actor=actor,
                once_key=f"{filing.pk}:{transition.id}" if transition.trigger else None,
            )


def _notice_body(transition: Transition, given: TransitionInput) -> str:
    parts = [localize(transition.notice) if transition.notice else localize(transition.label)]
    if given.reason:
        parts.append(_("Fundamentos: %(reason)s") % {"reason": given.reason})
    return "\n\n".join(parts)


DOCUMENT_TITLES = {
    "resolution": gettext_lazy("Resolución"),
    "silence_certificate": gettext_lazy(
        "Constancia de aprobación por silencio administrativo positivo"
    ),
}


def document_title(kind: str) -> str:
    """The document's title in the active language (the citizen's, when issuing)."""
    return str(DOCUMENT_TITLES.get(kind, kind))


def produce_document(
    filing: Filing, kind: str, transition: Transition, given: TransitionInput, actor: Any
) -> str:
    """Render and sign the document the new state needs; returns its verification code."""
    from tambo.documents.actions import issue_pdf

    version = filing.procedure_version
    agency, code = filing.agency.code, version.procedure.code
    template = select_template(
        [f"cases/documents/{agency}/{code}/{kind}.html", f"cases/documents/{kind}.html"]
    )
    title = f"{document_title(kind)} — {filing.number}"
    document = issue_pdf(
        agency=filing.agency,
        kind=kind,
        title=title,
        template_name=template.template.name,
        context={
            "filing": filing,
            "procedure_name": localize(version.file.name),
            "transition": transition,
            "transition_label": localize(transition.label),
            "reason": given.reason,
            "report": given.report,
            "signer": actor,
            "title": title,
        },
        subject_type="filing",
        subject_id=filing.number,
        public_fields={
            # The public verification record stays in Spanish, the official language.
            "tipo": _spanish_title(kind),
            "expediente": filing.number,
            "entidad": filing.agency.name,
            "decision": filing.status,
        },
        actor=actor,
    )
    return document.code


def _spanish_title(kind: str) -> str:
    with translation.override("es"):
        return document_title(kind)


def _set_assignee(
    filing: Filing, assignee: Any, actor: Any, action: str, data: dict[str, Any]
) -> None:
    previous = filing.assignee_id
    filing.assignee = assignee
    filing.lock_version += 1
    filing.updated_at = clock.now()
    filing.save(update_fields=["assignee", "lock_version", "updated_at"])
    audit.record(
        action,
        "filing",
        filing.number,
        actor=actor,
        agency_code=filing.agency.code,
        data={"from": previous, "to": assignee.pk, **data},
    )


def take_case(actor: Any, number: str) -> Filing:
    """An official takes a case from the queue (assigns it to themselves)."""
    with transaction.atomic():
        filing = _locked(number)
        policy.require(actor, "filing.take", filing)
        _set_assignee(filing, actor, actor, "filing.taken", {})
    return filing


def assign(actor: Any, number: str, assignee: Any, reason: str) -> Filing:
    """A supervisor assigns or reassigns a case, with a reason."""
    if not reason.strip():
        raise ValidationFailed({"reason": _("Escriba el motivo de la asignación.")})
    with transaction.atomic():
        filing = _locked(number)
        policy.require(actor, "filing.assign", filing)
        if not policy.official_roles(assignee, filing):
            raise ValidationFailed(
                {"assignee": _("Esa persona no trabaja en la unidad de este expediente.")}
            )
        _set_assignee(filing, assignee, actor, "filing.assigned", {"reason": reason})
    return filing
