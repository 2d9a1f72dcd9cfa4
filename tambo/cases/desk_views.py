"""Pages of account creation at a service centre (rules in ``desk_accounts.py``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tambo.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tambo.core.ratelimit import RateLimited, rate_limit
from tambo.identity import policy
from tambo.identity.phones import masked

from . import desk_accounts
from .models import AccountEnrolment

FIELDS = ("document_number", "first_name", "last_name", "phone", "email", "method")


def _require_intermediary(request: HttpRequest) -> None:
    if not policy.allows(request.user, "assisted.create_account"):
        raise Http404


def _own(request: HttpRequest, enrolment_id: str) -> AccountEnrolment:
    """The request, as the policy's ``assisted.enrolment`` decides on it (404 unless it is the
    caller's, 403 if they no longer work at the desk where they took it)."""
    try:
        return desk_accounts.get_enrolment(request.user, enrolment_id)
    except NotFound:
        raise Http404 from None
    except Forbidden:
        raise PermissionDenied from None


@login_required
@require_http_methods(["GET", "POST"])
def new_account(request: HttpRequest) -> HttpResponse:
    _require_intermediary(request)
    errors: dict[str, str] = {}
    retry_after = None
    values = dict.fromkeys(FIELDS, "") | {"method": "sms"}
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip()[:254] for k in FIELDS}
        try:
            enrolment = desk_accounts.request_account(
                request.user,
                **values,
                scan=request.FILES.get("scan"),
                unit_id=request.POST.get("unit") or None,
            )
        except ValidationFailed as exc:
            errors = exc.errors
        except RateLimited as exc:
            errors, retry_after = {"method": exc.message}, exc.retry_after
        else:
            if enrolment.citizen_id is not None:
                return redirect("cases:desk_account", enrolment_id=enrolment.pk)
            return redirect("cases:desk_account_code", enrolment_id=enrolment.pk)
    response = render(
        request,
        "cases/assisted/account_new.html",
        {"errors": errors, "values": values, "units": policy.intermediary_units(request.user)},
        status=429 if retry_after else 422 if errors else 200,
    )
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def account_code(request: HttpRequest, enrolment_id: str) -> HttpResponse:
    enrolment = _own(request, enrolment_id)
    if enrolment.citizen_id is not None:
        return redirect("cases:desk_account", enrolment_id=enrolment.pk)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            desk_accounts.confirm_code(
                request.user, enrolment.pk, request.POST.get("code", "")[:12]
            )
        except ValidationFailed as exc:
            errors = exc.errors
        except Conflict as exc:
            errors = {"code": exc.message}
        else:
            return redirect("cases:desk_account", enrolment_id=enrolment.pk)
    sent_to = masked(enrolment.phone) if enrolment.method == "sms" else _("su correo")
    return render(
        request,
        "cases/assisted/account_code.html",
        {"enrolment": enrolment, "errors": errors, "sent_to": sent_to},
        status=422 if errors else 200,
    )


@login_required
@require_GET
def account_done(request: HttpRequest, enrolment_id: str) -> HttpResponse:
    enrolment = _own(request, enrolment_id)
    if enrolment.citizen_id is None:
        return redirect("cases:desk_account_code", enrolment_id=enrolment.pk)
    sent_to = masked(enrolment.phone) if enrolment.phone else _("su correo")
    return render(
        request, "cases/assisted/account_done.html", {"enrolment": enrolment, "sent_to": sent_to}
    )


@login_required
@require_POST
def resend_activation(request: HttpRequest, enrolment_id: str) -> HttpResponse:
    """Send the person a new activation link (the previous one stops working)."""
    enrolment = _own(request, enrolment_id)
    try:
        desk_accounts.resend_activation(request.user, enrolment.pk)
    except Conflict as exc:
        messages.error(request, exc.message)
    except RateLimited as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Enviamos un enlace nuevo. El anterior ya no sirve."))
    return redirect("cases:desk_account", enrolment_id=enrolment.pk)


@rate_limit("login")
@require_http_methods(["GET", "POST"])
def activate(request: HttpRequest, token: str) -> HttpResponse:
    """The person sets their own password with the one-time link (no sign-in needed)."""
    try:
        enrolment = desk_accounts.activation_for(token)
    except NotFound as exc:
        return render(
            request, "cases/assisted/activate_gone.html", {"message": exc.message}, status=404
        )
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            desk_accounts.activate(
                token, request.POST.get("password1", ""), request.POST.get("password2", "")
            )
        except ValidationFailed as exc:
            errors = exc.errors
        except NotFound as exc:
            return render(
                request, "cases/assisted/activate_gone.html", {"message": exc.message}, status=404
            )
        else:
            messages.success(
                request,
                _("Su contraseña quedó guardada. Ingrese con su usuario %(username)s.")
                % {"username": enrolment.citizen.username},
            )
            return redirect("identity:login")
    return render(
        request,
        "cases/assisted/activate.html",
        {"errors": errors, "username": enrolment.citizen.username},
        status=422 if errors else 200,
    )
