"""The permission policy: may this user do this action on this object?

Every view, endpoint and action asks here, so the rules live in one place. Objects a
user may not see are reported as not found, so their existence does not leak.

Citizens act on what they own (drafts, expedientes, notices). Officials act through
grants: their appointments (role in an org unit) and the delegations they received that are
in force today. The front desk of an agency handles admissibility for all its units;
evaluators, signers and supervisors act on the expedientes of their own unit; supervisors
assign. A supervisor may delegate any role of their unit, a signer may delegate signing,
each for a period (never re-delegated: only an appointment can be delegated). Intermediaries
at a service centre act on the consents and account requests they took there, and on the
drafts and expedientes they assist (block "Assisted filing" below).

The checks are in-memory set lookups; a user's grants are read once per request (two
indexed queries, cached on the user object) and only when an official rule is consulted, so
a citizen acting on their own objects costs no query here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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
    "filing.citizen_act",
    # Upload a document the agency could not obtain from another agency (once-only).
    "filing.upload_instead",
    "notice.read",
    "notice.view",
    "correction.view",
}
# Anyone, signed in or not: the catalogue, the status by number + access code, verification.
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
    # Setting one's password with the one-time activation link of a desk-created account:
    # the link itself is the credential (cases/desk_accounts.py).
    "account.activate",
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
# Actions on no particular object, for officials only.
OFFICIAL_ACTIONS = {"office.view", "delegation.list"}
GLOBAL_ACTIONS = (
    PUBLIC_ACTIONS
    | SIGNED_IN_ACTIONS
    | OFFICIAL_ACTIONS
    | {"assisted.start", "assisted.list_own", "assisted.create_account"}
)
# The office's view of a case and a queue: whoever may not have it gets "not found", even the
# citizen who owns the expediente (the office page is not theirs to know about).
HIDDEN_WHEN_DENIED = {"filing.office_view", "queue.view", "office.view"}
# Roles a holder may delegate to another official of the agency.
DELEGABLE = {"supervisor": {"evaluator", "signer", "supervisor"}, "signer": {"signer"}}
OFFICIAL_ROLES = ("front_desk", "evaluator", "signer", "supervisor")


@dataclass(frozen=True, slots=True)
class Grant:
    """A role in an org unit the user may exercise today (appointed or delegated)."""

    unit: Any
    role: str
    delegated_by: int | None = None

    @property
    def unit_id(self) -> int:
        return self.unit.pk

    @property
    def agency_id(self) -> int:
        return self.unit.agency_id


def _owner_id(obj: Any) -> int | None:
    for attribute in ("citizen_id", "owner_id"):
        if hasattr(obj, attribute):
            return getattr(obj, attribute)
    return None


def _agency_id(obj: Any) -> int | None:
    if hasattr(obj, "agency_id"):
        return obj.agency_id
    unit = getattr(obj, "unit", None)
    return getattr(unit, "agency_id", None)


def grants(user: Any) -> list[Grant]:
    """The roles the user holds today: active appointments, then delegations in force.

    Cached on the user object, i.e. for one request; nothing that grants access is cached
    across requests. A delegation counts only while its delegator still holds a role that
    may delegate it in that unit (checked with a third query, only when there are any).
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    cached = getattr(user, "_tambo_grants", None)
    if cached is not None:
        return cached
    from tambo.core import clock

    from .models import Appointment, Delegation

    found = [
        Grant(a.unit, a.role)
        for a in Appointment.objects.filter(user=user, active=True).select_related("unit__agency")
    ]
    held = {(g.unit_id, g.role) for g in found}
    today = clock.local_now().date()
    delegations = list(
        Delegation.objects.filter(
            delegate=user, revoked_at__isnull=True, starts_on__lte=today, ends_on__gte=today
        )
        .select_related("unit__agency")
        .order_by("pk")
    )
    if delegations:  # rare: only then check that each delegator still holds the power
        powers = set(
            Appointment.objects.filter(
                user_id__in={d.delegator_id for d in delegations}, active=True
            ).values_list("user_id", "unit_id", "role")
        )
        for d in delegations:
            may = any(
                (d.delegator_id, d.unit_id, role) in powers
                for role, roles in DELEGABLE.items()
                if d.role in roles
            )
            if may and (d.unit_id, d.role) not in held:
                held.add((d.unit_id, d.role))
                found.append(Grant(d.unit, d.role, delegated_by=d.delegator_id))
    user._tambo_grants = found
    return found


# The name the rest of the code used before delegations: the same grants.
appointments = grants


def forget(user: Any) -> None:
    """Drop the grants cached on ``user`` (after appointments or delegations change)."""
    if hasattr(user, "_tambo_grants"):
        del user._tambo_grants


def official_roles(user: Any, filing: Any) -> set[str]:
    """The roles the user may exercise on this expediente."""
    agency_id, unit_id = getattr(filing, "agency_id", None), getattr(filing, "unit_id", None)
    return {
        g.role
        for g in grants(user)
        if g.role not in NON_OFFICE_ROLES
        and g.agency_id == agency_id
        and (g.role == "front_desk" or g.unit_id == unit_id)
    }


def delegated_by(user: Any, filing: Any, role: str) -> int | None:
    """Who delegated ``role`` to ``user`` for this expediente (``None`` if they hold it)."""
    via = None
    for g in grants(user):
        if g.role != role or g.agency_id != filing.agency_id:
            continue
        if g.role == "front_desk" or g.unit_id == filing.unit_id:
            if g.delegated_by is None:
                return None
            via = g.delegated_by
    return via


def is_official(user: Any) -> bool:
    return any(g.role not in NON_OFFICE_ROLES for g in grants(user))


def may_delegate(user: Any, unit_id: int, role: str) -> bool:
    """Whether ``user`` holds (by appointment, not delegation) a role that may delegate ``role``."""
    return any(
        role in DELEGABLE.get(g.role, ())
        for g in grants(user)
        if g.unit_id == unit_id and g.delegated_by is None
    )


def _may_reset_second_factor(user: Any, target: Any) -> bool:
    """An administrator who may delete authenticators (the admin's permission), or a supervisor
    (appointed, not delegated) of a unit where the target is appointed; never one's own, and
    only an administrator resets a staff account's."""
    if target is None or target.pk == user.pk:
        return False
    if user.is_staff and user.has_perm("otp_totp.delete_totpdevice"):
        return True
    if target.is_staff:
        return False
    supervised = {g.unit_id for g in grants(user) if g.role == "supervisor" and not g.delegated_by}
    return bool(supervised) and any(
        g.unit_id in supervised for g in grants(target) if not g.delegated_by
    )


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
    if action == "correction.resolve":
        return bool(user.is_staff)  # the data protection officer, in the admin
    if action == "official.reset_second_factor":
        return _may_reset_second_factor(user, obj)
    if action in ASSISTED_ACTIONS and _assisted_allows(user, action, obj):
        return True
    if action in DESK_RECORD_ACTIONS:
        return _desk_record_allows(user, action, obj)
    if obj is None:
        return action in OFFICIAL_ACTIONS and is_official(user)
    if action in CITIZEN_OWN_ACTIONS and _owner_id(obj) == user.pk:
        return True
    if action in {"filing.view", "filing.receipt", "filing.office_view"}:
        return bool(official_roles(user, obj))
    if action == "filing.take":
        return bool(official_roles(user, obj) & {"front_desk", "evaluator", "signer"})
    if action in {"filing.assign", "filing.reserve"}:
        return "supervisor" in official_roles(user, obj)
    if action == "queue.view":
        return obj.role not in NON_OFFICE_ROLES and any(
            g.unit_id == obj.unit.pk and g.role == obj.role for g in grants(user)
        )
    if action == "delegation.grant":
        return may_delegate(user, obj.unit_id, obj.role)
    if action == "delegation.revoke":
        return obj.delegator_id == user.pk or may_delegate(user, obj.unit_id, obj.role)
    if action == "delegation.view":
        # Who granted or received it, and who may revoke it (the lists of delegations).
        return user.pk in (obj.delegator_id, obj.delegate_id) or may_delegate(
            user, obj.unit_id, obj.role
        )
    return False


def role_for_transition(user: Any, filing: Any, allowed: Iterable[str]) -> str | None:
    """The role under which ``user`` may take a transition open to ``allowed`` actors."""
    allowed = set(allowed)
    if "citizen" in allowed and filing.citizen_id == getattr(user, "pk", None):
        return "citizen"
    roles = official_roles(user, filing) if allowed - {"citizen", "system"} else set()
    for role in OFFICIAL_ROLES:
        if role in allowed and role in roles:
            return role
    return None


def _can_see(user: Any, obj: Any) -> bool:
    if user is None or not user.is_authenticated:
        return False
    if _owner_id(obj) == user.pk:
        return True
    if _assisted_by(obj) == user.pk and intermediary_units(user):
        return True
    agency_id = _agency_id(obj)
    if hasattr(obj, "citizen_id"):
        # Officials see a citizen's expediente through their roles, never their casilla.
        return hasattr(obj, "unit_id") and bool(official_roles(user, obj))
    # An intermediary's desk is not an office role: they do not learn that an agency's
    # objects (delegations...) exist.
    return agency_id is not None and any(
        g.agency_id == agency_id and g.role not in NON_OFFICE_ROLES for g in grants(user)
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
    # An account for a person present who has none (cases/desk_accounts.py).
    "assisted.create_account",
    "draft.view",
    "draft.edit",
    "draft.submit",
    "draft.discard",
    "filing.view",
    "filing.receipt",
}


def intermediary_units(user: Any) -> list[Any]:
    """The service-centre units where the user is an active intermediary."""
    return [g.unit for g in grants(user) if g.role == "intermediary"]


def _assisted_by(obj: Any) -> int | None:
    for attribute in ("assisted_by_id", "filed_by_id"):
        if getattr(obj, attribute, None) is not None:
            return getattr(obj, attribute)
    return None


def _assisted_allows(user: Any, action: str, obj: Any) -> bool:
    if not intermediary_units(user):
        return False
    if action in {"assisted.start", "assisted.list_own", "assisted.create_account"}:
        return True
    return obj is not None and _assisted_by(obj) == user.pk


# What an intermediary takes at the desk: the citizen's consent to file for them
# (``cases.AssistedConsent``) and a request for an account for a person who has none
# (``cases.AccountEnrolment``). Each belongs to the intermediary who took it, at the
# service-centre unit where they took it: they act on it (see it, confirm its code, open the
# draft, send the activation link again) while they hold the intermediary appointment at that
# unit. After leaving that desk they are refused (403: they know it exists); anyone else is
# told it does not exist (404), the citizen named on the consent included.
DESK_RECORD_ACTIONS = {
    "assisted.consent": "cases.AssistedConsent",
    "assisted.enrolment": "cases.AccountEnrolment",
}


def _took(user: Any, obj: Any) -> bool:
    pk = getattr(user, "pk", None)
    return pk is not None and getattr(obj, "intermediary_id", None) == pk


def _desk_record_allows(user: Any, action: str, obj: Any) -> bool:
    # The model is checked, so a consent cannot pass as an account request or the reverse.
    label = getattr(getattr(obj, "_meta", None), "label", None)
    if label != DESK_RECORD_ACTIONS[action] or not _took(user, obj):
        return False
    return any(g.role == "intermediary" and g.unit_id == obj.unit_id for g in grants(user))


def require(user: Any, action: str, obj: Any = None) -> None:
    """Raise :class:`NotFound` (hiding the object) or :class:`Forbidden` unless allowed.

    A missing object and one the user may not see answer the same 404, so the answer
    never tells whether it exists; 403 is for what the user can see but not do.
    """
    if allows(user, action, obj):
        return
    if _hidden(user, action, obj):
        raise NotFound(_("No encontramos lo que busca."))
    raise Forbidden(_("No tiene permiso para hacer esto."))


def _hidden(user: Any, action: str, obj: Any) -> bool:
    """Whether a refusal must answer "not found" (the user may not know ``obj`` exists)."""
    if action in HIDDEN_WHEN_DENIED:
        return True
    if action in GLOBAL_ACTIONS:
        return False
    if obj is None:
        return True
    if action in DESK_RECORD_ACTIONS:
        # Only who took it knows it exists: not the citizen named on a consent, not the
        # agency's officials, not another intermediary at the same desk.
        return not _took(user, obj)
    return not _can_see(user, obj)
