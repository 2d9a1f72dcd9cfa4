"""The permission policy: may this user do this action on this object?

Every action and every view asks here, so the rules live in one place. Objects a
user may not see are reported as not found, so their existence does not leak.
"""

from __future__ import annotations

from typing import Any

from tambo.core.errors import Forbidden, NotFound

CITIZEN_OWN_ACTIONS = {
    "draft.view",
    "draft.edit",
    "draft.submit",
    "draft.discard",
    "filing.view",
    "filing.receipt",
}


def _owner_id(obj: Any) -> int | None:
    for attribute in ("citizen_id", "owner_id"):
        if hasattr(obj, attribute):
            return getattr(obj, attribute)
    return None


def allows(user: Any, action: str, obj: Any = None) -> bool:
    """Whether ``user`` may do ``action`` (``"<object>.<verb>"``) on ``obj``."""
    if user is None or not user.is_authenticated or not user.is_active:
        return action in {"catalog.view", "filing.status_by_code"}
    if action in {"catalog.view", "filing.status_by_code", "draft.start", "filing.list_own"}:
        return True
    if action in CITIZEN_OWN_ACTIONS:
        return obj is not None and _owner_id(obj) == user.pk
    return False


def require(user: Any, action: str, obj: Any = None) -> None:
    """Raise :class:`NotFound` (hiding the object) or :class:`Forbidden` unless allowed."""
    if allows(user, action, obj):
        return
    if obj is not None:
        raise NotFound("No encontramos lo que busca.")
    raise Forbidden("No tiene permiso para hacer esto.")
