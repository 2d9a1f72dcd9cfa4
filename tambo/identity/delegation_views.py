"""The officials' delegation page: list, grant and revoke delegations without JavaScript.

The same actions as the API (``delegations.grant_delegation`` / ``revoke_delegation``: the
policy, the transaction, the audit entry); this module only parses the form and renders.
Whoever is not an official gets 404 like every office page; an official who may not grant or
revoke the delegation asked for gets 403 (404 if it belongs to another agency).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tambo.catalog.models import OrgUnit
from tambo.core import clock
from tambo.core.errors import DomainError, Forbidden, NotFound, ValidationFailed

from . import delegations, policy
from .models import Delegation, Role, User


def _official(request: HttpRequest) -> None:
    try:
        policy.require(request.user, "office.view")
    except NotFound:
        raise Http404 from None


def _state(d: Delegation, today: dt.date) -> str:
    if d.revoked_at is not None:
        return _("Revocada")
    if d.ends_on < today:
        return _("Terminada")
    if d.starts_on > today:
        return _("Programada")
    return _("Vigente")


def _page(
    request: HttpRequest,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    revoking: int | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    today = clock.local_now().date()
    choices = delegations.delegable(user)
    rows = [
        {
            "d": d,
            "role": Role(d.role).label,
            "state": _state(d, today),
            "can_revoke": d.revoked_at is None
            and d.ends_on >= today
            and policy.allows(user, "delegation.revoke", d),
        }
        for d in delegations.visible_to(user)
    ]
    agencies = {unit.agency_id for unit, _role in choices}
    return render(
        request,
        "identity/delegations.html",
        {
            "rows": rows,
            "choices": [
                {"value": f"{unit.pk}:{role}", "label": f"{Role(role).label} — {unit.name}"}
                for unit, role in choices
            ],
            "people": delegations.possible_delegates(user, agencies) if choices else [],
            "errors": errors or {},
            "values": values or {"starts_on": today.isoformat()},
            "revoking": revoking,
            "max_days": delegations.MAX_DELEGATION_DAYS,
        },
        status=status,
    )


def _date(text: str, field: str, errors: dict[str, str]) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        errors[field] = _("Escriba la fecha como AAAA-MM-DD, por ejemplo 2027-06-30.")
        return None


@login_required
@require_http_methods(["GET", "POST"])
def delegation_list(request: HttpRequest) -> HttpResponse:
    """GET: the delegations that concern me and the form; POST: grant one."""
    _official(request)
    if request.method == "GET":
        return _page(request)
    fields = ("delegate", "unit_role", "starts_on", "ends_on", "reason")
    values = {name: request.POST.get(name, "") for name in fields}
    errors: dict[str, str] = {}
    unit_text, _colon, role = values["unit_role"].partition(":")
    unit = None
    if unit_text.isdigit() and len(unit_text) < 10:
        unit = OrgUnit.objects.select_related("agency").filter(pk=int(unit_text)).first()
    if unit is None or role not in Role.values:
        errors["unit_role"] = _("Elija la unidad y el rol que delega.")
    starts_on = _date(values["starts_on"], "starts_on", errors)
    ends_on = _date(values["ends_on"], "ends_on", errors)
    delegate = User.objects.filter(username=values["delegate"], is_active=True).first()
    try:
        if errors:  # the action checks the rest; here say everything that is missing at once
            if delegate is None:
                errors["delegate"] = _("Elija a quién delegar.")
            if not values["reason"].strip():
                errors["reason"] = _("Escriba el motivo de la delegación.")
            raise ValidationFailed(errors)
        delegations.grant_delegation(
            request.user,
            delegate=delegate,
            unit=unit,
            role=role,
            starts_on=starts_on,
            ends_on=ends_on,
            reason=values["reason"],
        )
    except NotFound:
        raise Http404 from None
    except Forbidden:
        raise PermissionDenied from None
    except ValidationFailed as exc:
        return _page(request, errors=exc.errors, values=values, status=422)
    except DomainError as exc:
        return _page(request, errors={"reason": exc.message}, values=values, status=exc.status)
    messages.success(
        request,
        _("Delegó el rol a %(name)s.") % {"name": delegate.display_name},
    )
    return redirect("identity:delegations")


@login_required
@require_POST
def delegation_revoke(request: HttpRequest, delegation_id: int) -> HttpResponse:
    """End a delegation now; the reason is required and goes to the audit entry."""
    _official(request)
    reason = request.POST.get("revoke_reason", "")
    try:
        delegations.revoke_delegation(request.user, delegation_id, reason)
    except NotFound:
        raise Http404 from None
    except Forbidden:
        raise PermissionDenied from None
    except ValidationFailed as exc:
        errors: dict[str, Any] = {f"revoke-{delegation_id}": exc.errors.get("reason", exc.message)}
        return _page(request, errors=errors, revoking=delegation_id, status=422)
    messages.success(request, _("Revocó la delegación."))
    return redirect("identity:delegations")
