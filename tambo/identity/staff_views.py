"""The supervisor's page about their unit's officials: reset a lost second factor.

An official who lost both their phone and their recovery codes cannot log in; a supervisor of
their unit (or an administrator, in the admin) resets it here through
``second_factor.reset_second_factor`` (the policy, the audit entry, the notice). Whoever may
not reset that person's second factor gets 404, whether the person exists or not.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from tambo.core.errors import NotFound, ValidationFailed

from . import policy
from . import second_factor as factors


def _official(request: HttpRequest) -> None:
    try:
        policy.require(request.user, "office.view")
    except NotFound:
        raise Http404 from None


def _page(request: HttpRequest, *, errors=None, failed: int | None = None, status: int = 200):
    people = factors.may_reset(request.user)
    enrolled = set(
        TOTPDevice.objects.filter(user__in=people, confirmed=True).values_list("user_id", flat=True)
    )
    return render(
        request,
        "identity/staff.html",
        {
            "people": [{"user": p, "enrolled": p.pk in enrolled} for p in people],
            "errors": errors or {},
            "failed": failed,
        },
        status=status,
    )


@login_required
@require_GET
def staff(request: HttpRequest) -> HttpResponse:
    _official(request)
    return _page(request)


@login_required
@require_POST
def reset(request: HttpRequest, user_id: int) -> HttpResponse:
    _official(request)
    try:
        target = factors.reset_second_factor(request.user, user_id, request.POST.get("reason", ""))
    except NotFound:
        raise Http404 from None
    except ValidationFailed as exc:
        errors = {f"reason-{user_id}": exc.errors.get("reason", exc.message)}
        return _page(request, errors=errors, failed=user_id, status=422)
    messages.success(
        request,
        _(
            "Restablecimos el segundo factor de %(name)s. Le avisamos; al ingresar registrará "
            "de nuevo su aplicación."
        )
        % {"name": target.display_name},
    )
    return redirect("identity:staff")
