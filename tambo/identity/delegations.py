"""Writes on officials' powers: grant and revoke a delegation (each audited).

A delegation lets an official act in a role they are not appointed to, for a period, because
the holder is away (vacation, leave). It is granted by someone who holds a role that may
delegate it in that unit (see ``policy.DELEGABLE``) and takes effect through the policy only
between its dates; revoking ends it at once. Delegations are never edited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from tambo.core import audit, clock
from tambo.core.errors import ValidationFailed

from . import policy
from .models import Appointment, Delegation, User

MAX_DELEGATION_DAYS = 90
LIST_LIMIT = 200


def visible_to(user: Any) -> list[Delegation]:
    """Delegations ``user`` granted or received, and those they may revoke (newest first).

    The query only narrows the candidates (the user's own and their units'); the policy's
    ``delegation.view`` decides on each one.
    """
    from django.db.models import Q

    policy.require(user, "delegation.list")
    units = [g.unit_id for g in policy.grants(user) if g.delegated_by is None]
    rows = (
        Delegation.objects.filter(Q(delegator=user) | Q(delegate=user) | Q(unit_id__in=units))
        .select_related("delegator", "delegate", "unit__agency")
        .order_by("-pk")[:LIST_LIMIT]
    )
    return [d for d in rows if policy.allows(user, "delegation.view", d)]


def delegable(user: Any) -> list[tuple[Any, str]]:
    """The (unit, role) pairs ``user`` may delegate: their appointments' powers, never a
    delegated role (see ``policy.DELEGABLE``)."""
    pairs: dict[tuple[int, str], tuple[Any, str]] = {}
    for g in policy.grants(user):
        if g.delegated_by is None:
            for role in sorted(policy.DELEGABLE.get(g.role, ())):
                pairs.setdefault((g.unit_id, role), (g.unit, role))
    return list(pairs.values())


def possible_delegates(user: Any, agency_ids: set[int]) -> list[User]:
    """Active officials of those agencies, other than ``user``: whom they may delegate to."""
    return list(
        User.objects.filter(
            is_active=True, appointments__active=True, appointments__unit__agency_id__in=agency_ids
        )
        .exclude(pk=user.pk)
        .distinct()
        .order_by("last_name", "first_name", "username")
    )


def grant_delegation(
    actor: Any,
    *,
    delegate: Any,
    unit: Any,
    role: str,
    starts_on: dt.date,
    ends_on: dt.date,
    reason: str,
) -> Delegation:
    """Delegate ``role`` in ``unit`` to ``delegate`` from ``starts_on`` to ``ends_on`` (included)."""
    candidate = Delegation(
        delegator=actor,
        delegate_id=getattr(delegate, "pk", None),
        unit=unit,
        role=role,
        starts_on=starts_on,
        ends_on=ends_on,
        reason=reason.strip(),
    )
    policy.require(actor, "delegation.grant", candidate)
    today = clock.local_now().date()
    errors: dict[str, str] = {}
    if delegate is None:
        errors["delegate"] = _("Elija a quién delegar.")
    elif delegate.pk == actor.pk:
        errors["delegate"] = _("No puede delegarse a sí mismo.")
    elif not Appointment.objects.filter(
        user=delegate, unit__agency_id=unit.agency_id, active=True
    ).exists():
        errors["delegate"] = _("Solo puede delegar en un funcionario de la misma entidad.")
    if ends_on < starts_on:
        errors["ends_on"] = _("La fecha final es anterior a la inicial.")
    elif ends_on < today:
        errors["ends_on"] = _("La fecha final ya pasó.")
    elif (ends_on - starts_on).days >= MAX_DELEGATION_DAYS:
        errors["ends_on"] = _("Una delegación dura como máximo %(days)s días.") % {
            "days": MAX_DELEGATION_DAYS
        }
    if not candidate.reason:
        errors["reason"] = _("Escriba el motivo de la delegación.")
    elif len(candidate.reason) > 500:
        errors["reason"] = _("Escriba como máximo %(limit)s caracteres.") % {"limit": 500}
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        candidate.created_at = clock.now()
        candidate.save()
        audit.record(
            "delegation.granted",
            "delegation",
            candidate.pk,
            actor=actor,
            agency_code=unit.agency.code,
            data={
                "delegate": delegate.pk,
                "unit": unit.code,
                "role": role,
                "starts_on": starts_on.isoformat(),
                "ends_on": ends_on.isoformat(),
                "reason": candidate.reason,
            },
        )
    policy.forget(delegate)
    return candidate


def revoke_delegation(actor: Any, delegation_id: int, reason: str) -> Delegation:
    """End a delegation now (its delegator or a supervisor of the unit); repeating is harmless."""
    with transaction.atomic():
        delegation = (
            Delegation.objects.select_for_update(of=("self",))
            .select_related("unit__agency")
            .filter(pk=delegation_id)
            .first()
        )
        policy.require(actor, "delegation.revoke", delegation)
        if not reason.strip():
            raise ValidationFailed({"reason": _("Escriba el motivo.")})
        if delegation.revoked_at is None:
            delegation.revoked_at = clock.now()
            delegation.save(update_fields=["revoked_at"])
            audit.record(
                "delegation.revoked",
                "delegation",
                delegation.pk,
                actor=actor,
                agency_code=delegation.unit.agency.code,
                data={"reason": reason.strip()[:500]},
            )
    return delegation
