"""Pages of assisted filing for intermediaries (see ``assisted.py`` for the rules)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tambo.catalog import queries as catalog_queries
from tambo.catalog.presenters import procedure_page
from tambo.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tambo.core.ratelimit import RateLimited
from tambo.identity import policy
from tambo.identity.models import DocumentType
from tambo.identity.phones import masked

from . import assisted
from .presenters import filing_view


def _require_intermediary(request: HttpRequest) -> None:
    if not policy.allows(request.user, "assisted.start"):
        raise Http404


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    _require_intermediary(request)
    filings = [filing_view(f) for f in assisted.filed_by_me(request.user)]
    return render(request, "cases/assisted/home.html", {"filings": filings})


@login_required
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest, agency: str, code: str) -> HttpResponse:
    _require_intermediary(request)
    procedure = catalog_queries.get_procedure(agency, code)
    if procedure is None or procedure.current_version is None:
        raise Http404
    errors: dict[str, str] = {}
    retry_after = None
    values = {"document_type": "dni", "document_number": "", "method": "sms"}
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip() for k in values}
        try:
            consent = assisted.request_consent(
                request.user,
                procedure,
                document_type=values["document_type"],
                document_number=values["document_number"][:20],
                method=values["method"],
                scan=request.FILES.get("scan"),
                unit_id=request.POST.get("unit") or None,
            )
        except ValidationFailed as exc:
            errors = exc.errors
        except RateLimited as exc:
            errors, retry_after = {"method": exc.message}, exc.retry_after
        else:
            if consent.granted_at is not None:
                draft = assisted.start_assisted_draft(request.user, consent.pk)
                return redirect("cases:draft", draft_id=draft.pk)
            return redirect("cases:assisted_code", consent_id=consent.pk)
    response = render(
        request,
        "cases/assisted/start.html",
        {
            "p": procedure_page(procedure),
            "errors": errors,
            "values": values,
            "document_types": DocumentType.choices,
            "units": policy.intermediary_units(request.user),
        },
        status=429 if retry_after else 422 if errors else 200,
    )
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def code(request: HttpRequest, consent_id: str) -> HttpResponse:
    # The policy's ``assisted.consent`` decides, on the consent itself (404 unless it is the
    # caller's, 403 if they no longer work at the desk where they took it).
    try:
        consent = assisted.get_consent(request.user, consent_id)
    except NotFound:
        raise Http404 from None
    except Forbidden:
        raise PermissionDenied from None
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            assisted.confirm_code(request.user, consent.pk, request.POST.get("code", "")[:12])
            draft = assisted.start_assisted_draft(request.user, consent.pk)
        except ValidationFailed as exc:
            errors = exc.errors
        except Conflict as exc:
            errors = {"code": exc.message}
        else:
            messages.success(request, _("Consentimiento registrado."))
            return redirect("cases:draft", draft_id=draft.pk)
    sent_to = masked(consent.citizen.phone) if consent.method == "sms" else _("su correo")
    return render(
        request,
        "cases/assisted/code.html",
        {
            "consent": consent,
            "errors": errors,
            "sent_to": sent_to,
            "delivery": assisted.code_delivery(consent),
        },
        status=422 if errors else 200,
    )


@login_required
@require_POST
def open_draft(request: HttpRequest, consent_id: str) -> HttpResponse:
    """Continue with a consent already given (e.g. after going back)."""
    try:
        draft = assisted.start_assisted_draft(request.user, consent_id)
    except NotFound:
        raise Http404 from None
    except Forbidden:
        raise PermissionDenied from None
    except Conflict as exc:
        messages.error(request, exc.message)
        return redirect("cases:assisted_code", consent_id=consent_id)
    return redirect("cases:draft", draft_id=draft.pk)
