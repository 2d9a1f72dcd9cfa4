"""Officials' pages: work queues, the case page with its transitions, taking and assigning."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_
from django.views.decorators.http import require_GET, require_POST

from tambo.catalog.texts import localize
from tambo.core.errors import DomainError, Forbidden, NotFound, ValidationFailed
from tambo.identity import policy
from tambo.inbox.outbox import undelivered_notice_alerts
from tambo.privacy.access import record_filing_access
from tambo.privacy.actions import place_reserve

from . import office_queries as oq
from . import queries, transitions
from .presenters import answer_rows, filing_view, state_label, timeline_rows

ROLE_LABELS = {
    "front_desk": N_("Mesa de partes"),
    "evaluator": N_("Evaluación"),
    "signer": N_("Firma"),
    "supervisor": N_("Supervisión"),
}


def _official(request: HttpRequest) -> None:
    try:
        policy.require(request.user, "office.view")
    except NotFound:
        raise Http404 from None


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    _official(request)
    queues = [
        {"queue": q, "label": _(ROLE_LABELS[q.role]), "count": oq.queue_size(q)}
        for q in oq.my_queues(request.user)
    ]
    from .evidence import once_only_figure

    agencies = sorted({q.unit.agency.code for q in oq.my_queues(request.user)})
    figure = [row for code in agencies for row in once_only_figure(code)]
    return render(request, "cases/office/home.html", {"queues": queues, "once_only": figure})


@login_required
@require_GET
def queue(request: HttpRequest, unit_id: int, role: str) -> HttpResponse:
    _official(request)
    try:
        q = oq.get_queue(request.user, unit_id, role)
    except NotFound:
        raise Http404 from None
    except Forbidden:
        raise PermissionDenied from None
    procedure = request.GET.get("tramite") or None
    state = request.GET.get("estado") or None
    light = request.GET.get("semaforo") or None
    error = ""
    try:
        rows, next_cursor = oq.page(
            q,
            procedure=procedure,
            state=state,
            light=light if light in oq.LIGHTS else None,
            after=oq.parse_cursor(request.GET.get("despues")),
        )
    except DomainError as exc:
        rows, next_cursor, error = [], None, exc.message
    items = [
        {
            "filing": f,
            "light": oq.deadline_light(f),
            "state": state_label(f),
            "procedure": localize(f.procedure_version.file.name),
        }
        for f in rows
    ]
    params = request.GET.copy()
    params.pop("despues", None)
    return render(
        request,
        "cases/office/queue.html",
        {
            "q": q,
            "label": _(ROLE_LABELS[q.role]),
            "items": items,
            "next_cursor": next_cursor,
            "procedure": procedure or "",
            "state": state or "",
            "light": light or "",
            "error": error,
            "params": params.urlencode(),
        },
    )


def _evidence(filing: Any) -> list[Any]:
    rows = list(filing.evidence.order_by("pk"))
    for row in rows:
        row.data_text = json.dumps(row.data, ensure_ascii=False, indent=1) if row.data else ""
    return rows


def _case_context(request: HttpRequest, filing: Any) -> dict[str, Any]:
    """What the case page shows; showing it records the official's access to the citizen's data."""
    record_filing_access(request.user, filing, [("filing", "")])
    workflow = filing.procedure_version.workflow
    roles = policy.official_roles(request.user, filing)
    available = [
        t
        for t in workflow.available(filing.status)
        if "system" not in t.by and "citizen" not in t.by and roles & set(t.by)
    ]
    unit_staff = (
        get_user_model()
        .objects.filter(appointments__unit=filing.unit, appointments__active=True)
        .distinct()
        .order_by("username")
    )
    return {
        "f": filing_view(filing),
        "filing": filing,
        "light": oq.deadline_light(filing),
        "rows": answer_rows(filing.procedure_version, filing.answers, list(filing.documents.all())),
        "evidence": _evidence(filing),
        "undelivered_sms": undelivered_notice_alerts(filing),
        "timeline": timeline_rows(filing, queries.timeline(filing, internal=True), internal=True),
        "transitions": [
            {"id": t.id, "label": localize(t.label), "requires": t.requires} for t in available
        ],
        "can_take": policy.allows(request.user, "filing.take", filing)
        and filing.assignee_id != request.user.pk,
        "can_assign": "supervisor" in roles,
        "can_reserve": policy.allows(request.user, "filing.reserve", filing),
        "staff": unit_staff,
        "documents": queries.issued_documents(filing),
    }


@login_required
@require_GET
def case(request: HttpRequest, number: str) -> HttpResponse:
    filing = _office_filing(request, number)
    return render(request, "cases/office/case.html", _case_context(request, filing))


def _office_filing(request: HttpRequest, number: str) -> Any:
    """The case through the policy: 404 if the user may not see it, 403 if only as its citizen."""
    try:
        return oq.office_filing(request.user, number)
    except NotFound:
        raise Http404 from None
    except Forbidden:
        raise PermissionDenied from None


def _require_office_access(request: HttpRequest, number: str) -> None:
    """Office actions are for the agency's officials; anyone else gets a 404 (or 403)."""
    _office_filing(request, number)


def _refused(
    request: HttpRequest, number: str, exc: DomainError, values: dict[str, str]
) -> HttpResponse:
    filing = oq.office_filing(request.user, number)
    context = _case_context(request, filing)
    context.update(action_error=exc.message, errors=getattr(exc, "errors", {}), values=values)
    return render(request, "cases/office/case.html", context, status=exc.status)


@login_required
@require_POST
def act(request: HttpRequest, number: str, transition_id: str) -> HttpResponse:
    _require_office_access(request, number)
    values = {
        "reason": request.POST.get("reason", ""),
        "report": request.POST.get("report", ""),
        "transition": transition_id,
    }
    version = request.POST.get("lock_version")
    try:
        given = transitions.TransitionInput(
            reason=values["reason"],
            report=values["report"],
            expected_version=int(version) if version and version.isdigit() else None,
        )
        filing = transitions.take(request.user, number, transition_id, given)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        return _refused(request, number, exc, values)
    messages.success(
        request,
        _("Listo: el expediente está ahora en «%(state)s».") % {"state": state_label(filing)},
    )
    return redirect("office:case", number=number)


@login_required
@require_POST
def take(request: HttpRequest, number: str) -> HttpResponse:
    _require_office_access(request, number)
    try:
        transitions.take_case(request.user, number)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        return _refused(request, number, exc, {})
    messages.success(request, _("Tomó el expediente: ahora está a su cargo."))
    return redirect("office:case", number=number)


@login_required
@require_POST
def assign(request: HttpRequest, number: str) -> HttpResponse:
    _require_office_access(request, number)
    username = request.POST.get("assignee", "")
    assignee = get_user_model().objects.filter(username=username).first()
    try:
        if assignee is None:
            raise ValidationFailed({"assignee": _("Elija a quién asignar el expediente.")})
        transitions.assign(request.user, number, assignee, request.POST.get("reason", ""))
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        return _refused(request, number, exc, {"assign_reason": request.POST.get("reason", "")})
    messages.success(
        request,
        _("Expediente asignado a %(name)s.") % {"name": assignee.get_full_name() or username},
    )
    return redirect("office:case", number=number)


@login_required
@require_GET
def upload_download(request: HttpRequest, number: str, document_id: str) -> HttpResponse:
    """An official opens a document the citizen uploaded (recorded in the citizen's access log)."""
    try:
        filing = oq.office_filing(request.user, number)
    except NotFound:
        raise Http404 from None
    document = filing.documents.filter(pk=document_id).first()
    if document is None or not document.file:
        raise Http404
    record_filing_access(request.user, filing, [("document", document.original_name)])
    return FileResponse(
        document.file.open("rb"),
        content_type=document.media_type,
        as_attachment=True,
        filename=document.original_name,
    )


@login_required
@require_POST
def reserve(request: HttpRequest, number: str) -> HttpResponse:
    """A supervisor puts the expediente under legal reserve until a date, or lifts it."""
    _require_office_access(request, number)
    until_text = request.POST.get("until", "").strip()
    reason = request.POST.get("reserve_reason", "")
    try:
        until = None
        if request.POST.get("lift") is None:
            try:
                until = dt.date.fromisoformat(until_text)
            except ValueError:
                raise ValidationFailed(
                    {"until": _("Escriba la fecha como AAAA-MM-DD, por ejemplo 2027-06-30.")}
                ) from None
        place_reserve(request.user, number, until, reason)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        return _refused(
            request,
            number,
            exc,
            {"transition": "reserve", "until": until_text, "reserve_reason": reason},
        )
    messages.success(request, _("Guardamos la reserva del expediente."))
    return redirect("office:case", number=number)
