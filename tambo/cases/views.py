"""Citizen pages: fill a draft, check the answers, file, get the receipt, follow the expediente."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tambo.catalog import queries as catalog_queries
from tambo.catalog.answers import validate_answers
from tambo.catalog.presenters import form_fields, procedure_page
from tambo.catalog.texts import localize
from tambo.core.downloads import attachment
from tambo.core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from tambo.core.ratelimit import rate_limit
from tambo.identity import policy
from tambo.privacy.access import record_filing_access

from . import actions, evidence, queries, transitions
from .presenters import answer_rows, filing_view, timeline_rows
from .receipt import receipt_pdf

# An official may open these citizen pages too (the policy lets the case's officials see
# them); record_filing_access records nothing when the citizen reads their own data.


def _not_found(exc: NotFound) -> Http404:
    return Http404(exc.message)


@login_required
@require_POST
def start(request: HttpRequest, agency: str, code: str) -> HttpResponse:
    procedure = catalog_queries.get_procedure(agency, code)
    if procedure is None or procedure.current_version is None:
        raise Http404
    draft = actions.start_draft(request.user, procedure.current_version)
    return redirect("cases:draft", draft_id=draft.pk)


def _open_draft(request: HttpRequest, draft_id: str):  # type: ignore[no-untyped-def]
    try:
        return queries.get_draft(request.user, draft_id)
    except NotFound as exc:
        raise _not_found(exc) from None


def _display_answers(answers: dict[str, Any]) -> dict[str, Any]:
    return {k: ("yes" if v is True else "no" if v is False else v) for k, v in answers.items()}


@login_required
@require_http_methods(["GET", "POST"])
def draft_form(request: HttpRequest, draft_id: str) -> HttpResponse:
    draft = _open_draft(request, draft_id)
    if hasattr(draft, "filing"):
        return redirect("cases:receipt", number=draft.filing.number)
    version = draft.procedure_version
    errors: dict[str, str] = {}
    values = _display_answers(draft.answers)
    if request.method == "POST":
        posted = {
            f.name: request.POST.get(f.name, "") for f in version.file.form if f.type != "file"
        }
        values = {**values, **posted}
        try:
            actions.save_answers(request.user, draft.pk, posted)
        except ValidationFailed as exc:
            errors.update(exc.errors)
        for field in version.file.form:
            upload = request.FILES.get(field.name)
            if field.type == "file" and upload is not None:
                try:
                    actions.attach_document(request.user, draft.pk, field.name, upload, upload.name)
                except ValidationFailed as exc:
                    errors.update(exc.errors)
            if field.type == "file" and request.POST.get(f"remove-{field.name}"):
                actions.remove_document(request.user, draft.pk, field.name)
        draft.refresh_from_db()
        if not errors and "save_later" in request.POST:
            messages.success(
                request,
                _("Guardamos su borrador. Puede continuar cuando quiera desde «Mis expedientes»."),
            )
            return redirect("cases:my_filings")
        if not errors:
            present = set(draft.documents.values_list("field_name", flat=True))
            _cleaned, missing = validate_answers(version.file, draft.answers, present)
            if not missing:
                return redirect("cases:review", draft_id=draft.pk)
            errors.update(missing)
    documents = {d.field_name: d for d in draft.documents.all()}
    return render(
        request,
        "cases/draft_form.html",
        {
            "draft": draft,
            "p": procedure_page(version.procedure),
            "fields": form_fields(version),
            "values": values,
            "errors": errors,
            "documents": documents,
        },
        status=422 if errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
@rate_limit("filing", per_user=True)
def review(request: HttpRequest, draft_id: str) -> HttpResponse:
    draft = _open_draft(request, draft_id)
    if hasattr(draft, "filing"):
        return redirect("cases:receipt", number=draft.filing.number)
    version = draft.procedure_version
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            result = actions.submit_draft(
                request.user,
                draft.pk,
                channel="web",
                data_consent=request.POST.get("consent") == "yes",
            )
        except ValidationFailed as exc:
            if set(exc.errors) != {"consent"}:
                messages.error(request, _("Faltan datos. Revise los campos marcados."))
                return redirect("cases:draft", draft_id=draft.pk)
            errors = exc.errors
        except Conflict as exc:
            messages.error(request, exc.message)
            return redirect("cases:draft", draft_id=draft.pk)
        else:
            return redirect("cases:receipt", number=result.filing.number)
    documents = list(draft.documents.all())
    return render(
        request,
        "cases/review.html",
        {
            "draft": draft,
            "p": procedure_page(version.procedure),
            "rows": answer_rows(version, draft.answers, documents),
            "consent_text": localize(version.file.consent),
            "errors": errors,
        },
        status=422 if errors else 200,
    )


@login_required
@require_POST
def discard(request: HttpRequest, draft_id: str) -> HttpResponse:
    try:
        actions.discard_draft(request.user, draft_id)
    except NotFound as exc:
        raise _not_found(exc) from None
    messages.success(request, _("Eliminamos el borrador."))
    return redirect("cases:my_filings")


def _own_filing(request: HttpRequest, number: str, action: str = "filing.view"):  # type: ignore[no-untyped-def]
    """The expediente if the policy lets the user do ``action`` on it (404/403 otherwise)."""
    try:
        filing = queries.get_filing(request.user, number)
        if action != "filing.view":
            policy.require(request.user, action, filing)
    except NotFound as exc:
        raise _not_found(exc) from None
    except Forbidden:
        raise PermissionDenied from None
    return filing


@login_required
@require_GET
def receipt(request: HttpRequest, number: str) -> HttpResponse:
    filing = _own_filing(request, number, "filing.receipt")
    record_filing_access(request.user, filing, [("filing", "")])
    return render(request, "cases/receipt.html", {"f": filing_view(filing)})


@login_required
@require_GET
def receipt_download(request: HttpRequest, number: str) -> HttpResponse:
    filing = _own_filing(request, number, "filing.receipt")
    record_filing_access(request.user, filing, [("receipt", filing.number)])
    return attachment(receipt_pdf(filing), f"cargo-{filing.number}.pdf", "application/pdf")


@login_required
@require_GET
def my_filings(request: HttpRequest) -> HttpResponse:
    policy.require(request.user, "filing.list_own")
    before = None
    cursor = request.GET.get("antes", "")
    if cursor:
        try:
            at_text, pk_text = cursor.rsplit("_", 1)
            before = (dt.datetime.fromisoformat(at_text), int(pk_text))
        except ValueError:
            before = None
    page = queries.my_filings_page(request.user, before)
    next_cursor = None
    if len(page) == queries.PAGE_SIZE:
        last = page[-1]
        next_cursor = f"{last.submitted_at.isoformat()}_{last.pk}"
    return render(
        request,
        "cases/my_filings.html",
        {
            "filings": [filing_view(f) for f in page],
            "drafts": queries.my_drafts(request.user),
            "next_cursor": next_cursor,
        },
    )


@login_required
@require_GET
def filing_detail(request: HttpRequest, number: str) -> HttpResponse:
    filing = _own_filing(request, number)
    record_filing_access(request.user, filing, [("filing", "")])
    return render(request, "cases/filing.html", _filing_context(filing))


@require_http_methods(["GET", "POST"])
@rate_limit("status")
def status_lookup(request: HttpRequest) -> HttpResponse:
    """Anyone with the filing number and access code sees the status, and nothing else."""
    policy.require(request.user, "filing.status_by_code")
    errors: dict[str, str] = {}
    filing = None
    number = code = ""
    if request.method == "POST":
        number = request.POST.get("numero", "").strip()[:40]
        code = request.POST.get("codigo", "").strip()[:12]
        if not number:
            errors["numero"] = _("Escriba el número de expediente.")
        if not code:
            errors["codigo"] = _("Escriba el código de acceso impreso en su cargo.")
        if not errors:
            filing = queries.filing_by_access_code(number, code)
            if filing is None:
                errors["numero"] = _(
                    "No encontramos un expediente con ese número y código. Revise ambos."
                )
    return render(
        request,
        "cases/status_lookup.html",
        {
            "errors": errors,
            "number": number,
            "code": code,
            "filing": filing,
            "f": filing_view(filing) if filing else None,
            "timeline": timeline_rows(filing, queries.timeline(filing)) if filing else [],
        },
        status=422 if errors else 200,
    )


def _citizen_transitions(filing: Any) -> list[dict[str, Any]]:
    workflow = filing.procedure_version.workflow
    return [
        {"id": t.id, "label": localize(t.label), "requires": t.requires}
        for t in workflow.available(filing.status, "citizen")
    ]


@login_required
@require_POST
def citizen_act(request: HttpRequest, number: str, transition_id: str) -> HttpResponse:
    """The citizen corrects an observation, withdraws, or appeals (with files when correcting)."""
    filing = _own_filing(request, number, "filing.citizen_act")
    reason = request.POST.get("reason", "")
    errors: dict[str, str] = {}
    try:
        for field in filing.procedure_version.file.form:
            upload = request.FILES.get(field.name)
            if field.type == "file" and upload is not None:
                actions.add_filing_document(request.user, number, field.name, upload, upload.name)
        transitions.take(
            request.user, number, transition_id, transitions.TransitionInput(reason=reason)
        )
    except ValidationFailed as exc:
        errors = exc.errors
        status, message = 422, exc.message
    except DomainError as exc:
        status, message = exc.status, exc.message
    else:
        messages.success(request, _("Listo. Registramos su acción en el expediente."))
        return redirect("cases:filing", number=number)
    filing.refresh_from_db()
    return render(
        request,
        "cases/filing.html",
        {
            **_filing_context(filing),
            "action_error": message,
            "errors": errors,
            "values": {"transition": transition_id, "reason": reason},
        },
        status=status,
    )


@login_required
@require_POST
def upload_instead(request: HttpRequest, number: str, requirement: str) -> HttpResponse:
    """The citizen uploads a document the agency could not obtain from another agency."""
    filing = _own_filing(request, number, "filing.upload_instead")
    upload = request.FILES.get("archivo")
    try:
        if upload is None:
            raise ValidationFailed({"archivo": _("Elija el archivo que quiere subir.")})
        evidence.upload_instead(request.user, number, requirement, upload, upload.name)
    except ValidationFailed as exc:
        errors = {"archivo": next(iter(exc.errors.values()), exc.message)}
        status, message = 422, exc.message
    except DomainError as exc:
        errors, status, message = {}, exc.status, exc.message
    else:
        messages.success(request, _("Listo. Recibimos su documento."))
        return redirect("cases:filing", number=number)
    filing.refresh_from_db()
    return render(
        request,
        "cases/filing.html",
        {
            **_filing_context(filing),
            "action_error": message,
            "upload_errors": errors,
            "upload_requirement": requirement,
        },
        status=status,
    )


def _filing_context(filing: Any) -> dict[str, Any]:
    from tambo.inbox.models import Notice
    from tambo.privacy.models import Consent

    return {
        "f": filing_view(filing),
        "consent": Consent.objects.filter(filing=filing).first(),
        "timeline": timeline_rows(filing, queries.timeline(filing)),
        "transitions": _citizen_transitions(filing),
        "file_fields": [f for f in form_fields(filing.procedure_version) if f.type == "file"],
        "documents": queries.issued_documents(filing),
        "notices": Notice.objects.filter(filing=filing).order_by("-deposited_at"),
    }


@login_required
@require_GET
def issued_document(request: HttpRequest, number: str, code: str) -> HttpResponse:
    """Download a signed document of the expediente (its citizen or its officials only)."""
    filing = _own_filing(request, number)
    document = next((d for d in queries.issued_documents(filing) if d.code == code), None)
    if document is None:
        raise Http404
    record_filing_access(request.user, filing, [("issued_document", document.title)])
    with document.file.open("rb") as handle:
        content = handle.read()
    return attachment(content, f"{document.code}.pdf", "application/pdf")
