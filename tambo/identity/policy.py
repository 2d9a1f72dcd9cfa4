"""The permission policy: may this user do this action on this object?

Every action and every view asks here, so the rules live in one place. Objects a
user may not see are reported as not found, so their existence does not leak.

Citizens act on what they own. Officials act through their appointments (role in an
org unit): the front desk of an agency handles admissibility for all its units;
evaluators, signers and supervisors act on the expedientes of their own unit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from tambo.core.errors import Forbidden, NotFound

CITIZEN_OWN_ACTIONS = {
    "draft.view",
    "draft.edit",
    "draft.submit",
    "draft.discard",
    "filing.view",
    "filing.receipt",
    "notice.read",
    "notice.view",
    "correction.view",
}
# exchange.*: other agencies' nodes, authenticated by their RFC 9421 signature and authorised
# by the registry's access rules (tambo/exchange/provider.py), not by a user session.
PUBLIC_ACTIONS = {
    "catalog.view",
    "filing.status_by_code",
    "document.verify",
    "exchange.registry",
    "exchange.call",
    "health.view",
    "audit.view",
    "open_data.view",
}
SIGNED_IN_ACTIONS = {
    "draft.start",
    "filing.list_own",
    "notice.list_own",
    # Personal data rights (Ley 29733): each user's own access log, copy and corrections.
    "access.list_own",
    "data.export_own",
    "correction.request",
    "correction.list_own",
}


def _owner_id(obj: Any) -> int | None:
    for attribute in ("citizen_id", "owner_id"):
        if hasattr(obj, attribute):
            return getattr(obj, attribute)
    return None


def appointments(user: Any) -> list[Any]:
    """The user's active appointments (cached on the user object for the request)."""
    if user is None or not user.is_authenticated:
        return []
    cached = getattr(user, "_tambo_appointments", None)
    if cached is None:
        cached = list(user.appointments.filter(active=True).select_related("unit__agency"))
        user._tambo_appointments = cached
    return cached


def official_roles(user: Any, filing: Any) -> set[str]:
    """The roles the user may exercise on this expediente."""
    roles = set()
    for appointment in appointments(user):
        if appointment.role in NON_OFFICE_ROLES:
            continue
        if appointment.unit.agency_id != getattr(filing, "agency_id", None):
            continue
        if appointment.role == "front_desk" or appointment.unit_id == getattr(
            filing, "unit_id", None
        ):
            roles.add(appointment.role)
    return roles


def is_official(user: Any) -> bool:
    return any(a.role not in NON_OFFICE_ROLES for a in appointments(user))


def needs_second_factor(user: Any) -> bool:
    """Anyone with an active appointment (officials, and intermediaries who file for citizens)
    and staff (the Django admin) must verify a second factor after their password before
    their session may do anything else."""
    return bool(user and user.is_authenticated and (user.is_staff or appointments(user)))


def allows(user: Any, action: str, obj: Any = None) -> bool:
    """Whether ``user`` may do ``action`` (``"<object>.<verb>"``) on ``obj``."""
    if action in PUBLIC_ACTIONS:
        return True
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if action in SIGNED_IN_ACTIONS:
        return True
    if action in CITIZEN_OWN_ACTIONS and obj is not None and _owner_id(obj) == user.pk:
        return True
    if action in ASSISTED_ACTIONS and _assisted_allows(user, action, obj):
        return True
    if action in {"filing.view", "filing.receipt", "filing.office_view"} and obj is not None:
        return bool(official_roles(user, obj))
    if action == "filing.take" and obj is not None:
        return bool(official_roles(user, obj) & {"front_desk", "evaluator", "signer"})
    if action in {"filing.assign", "filing.reserve"} and obj is not None:
        return "supervisor" in official_roles(user, obj)
    if action == "correction.resolve":
        return bool(user.is_staff)  # the data protection officer, in the admin
    if action == "queue.view" and obj is not None:
        return any(
            a.unit_id == obj.pk and a.role not in NON_OFFICE_ROLES for a in appointments(user)
        )
    return False


def role_for_transition(user: Any, filing: Any, allowed: Iterable[str]) -> str | None:
    """The role under which ``user`` may take a transition open to ``allowed`` actors."""
    allowed = set(allowed)
    if "citizen" in allowed and filing.citizen_id == getattr(user, "pk", None):
        return "citizen"
    for role in ("front_desk", "evaluator", "signer", "supervisor"):
        if role in allowed and role in official_roles(user, filing):
            return role
    return None


def _can_see(user: Any, obj: Any) -> bool:
    if user is None or not user.is_authenticated:
        return False
    return (
        _owner_id(obj) == user.pk
        or bool(official_roles(user, obj))
        or (_assisted_by(obj) == user.pk and bool(intermediary_units(user)))
    )


# --- Assisted filing (issue 6, part 4) -------------------------------------------------
# An intermediary (Appointment role "intermediary" at a service-centre unit: a Tambo, a
# municipal front desk) files for a citizen who is present and consents. They act on the
# drafts they fill for that citizen and see the expedientes they filed, nothing else: not
# the citizen's other expedientes, not the office queues (``official_roles`` skips them).
NON_OFFICE_ROLES = {"intermediary"}
ASSISTED_ACTIONS = {
    "assisted.start",
    "assisted.list_own",
    "draft.view",
    "draft.edit",
    "draft.submit",
    "draft.discard",
    "filing.view",
    "filing.receipt",
}


def intermediary_units(user: Any) -> list[Any]:
    """The service-centre units where the user is an active intermediary."""
    return [a.unit for a in appointments(user) if a.role == "intermediary"]


def _assisted_by(obj: Any) -> int | None:
    for attribute in ("assisted_by_id", "filed_by_id"):
        if getattr(obj, attribute, None) is not None:
            return getattr(obj, attribute)
    return None


def _assisted_allows(user: Any, action: str, obj: Any) -> bool:
    if not intermediary_units(user):
        return False
    if action in {"assisted.start", "assisted.list_own"}:
        return True
    return obj is not None and _assisted_by(obj) == user.pk


def require(user: Any, action: str, obj: Any = None) -> None:
    """Raise :class:`NotFound` (hiding the object) or :class:`Forbidden` unless allowed."""
    if allows(user, action, obj):
        return
    if obj is not None and not _can_see(user, obj):
        raise NotFound(_("No encontramos lo que busca."))
    raise Forbidden(_("No tiene permiso para hacer esto."))
