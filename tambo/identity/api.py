"""Delegations over the API: list the ones that concern me, grant one, revoke one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status

from tambo.core.errors import NotFound

from . import delegations, policy
from .models import Delegation, User

router = Router(tags=["delegations"])


class DelegationIn(Schema):
    delegate: str
    unit_id: int
    role: str
    starts_on: dt.date
    ends_on: dt.date
    reason: str


class RevokeIn(Schema):
    reason: str


class DelegationOut(Schema):
    id: int
    delegator: str
    delegate: str
    unit_id: int
    unit: str
    role: str
    starts_on: dt.date
    ends_on: dt.date
    reason: str
    revoked_at: dt.datetime | None


def _out(d: Delegation) -> dict[str, Any]:
    return {
        "id": d.pk,
        "delegator": d.delegator.username,
        "delegate": d.delegate.username,
        "unit_id": d.unit_id,
        "unit": d.unit.code,
        "role": d.role,
        "starts_on": d.starts_on,
        "ends_on": d.ends_on,
        "reason": d.reason,
        "revoked_at": d.revoked_at,
    }


@router.get("/office/delegations", response=list[DelegationOut])
def my_delegations(request: HttpRequest) -> Any:
    """Delegations I granted or received, and those of the units where I may delegate."""
    return [_out(d) for d in delegations.visible_to(request.user)]


@router.post("/office/delegations", response={201: DelegationOut})
def grant(request: HttpRequest, payload: DelegationIn) -> Any:
    """Delegate a role I may delegate in a unit of mine to another official of the agency."""
    unit = next((g.unit for g in policy.grants(request.user) if g.unit_id == payload.unit_id), None)
    if unit is None:
        raise NotFound("No such unit among yours.", field="unit_id")
    delegate = User.objects.filter(username=payload.delegate, is_active=True).first()
    delegation = delegations.grant_delegation(
        request.user,
        delegate=delegate,
        unit=unit,
        role=payload.role,
        starts_on=payload.starts_on,
        ends_on=payload.ends_on,
        reason=payload.reason,
    )
    return Status(201, _out(delegation))


@router.post("/office/delegations/{delegation_id}/revoke", response=DelegationOut)
def revoke(request: HttpRequest, delegation_id: int, payload: RevokeIn) -> Any:
    return _out(delegations.revoke_delegation(request.user, delegation_id, payload.reason))
