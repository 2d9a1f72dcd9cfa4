"""The casilla over the API: list notices (unread first) and mark one read."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from . import actions
from .views import inbox_page

router = Router(tags=["casilla"])


class NoticeOut(Schema):
    id: int
    filing: str
    agency: str
    kind: str
    title: str
    body: str
    document_code: str
    deposited_at: dt.datetime
    effective_on: dt.date
    read_at: dt.datetime | None


def _notice(n: Any) -> dict[str, Any]:
    return {
        "id": n.pk,
        "filing": n.filing.number,
        "agency": n.agency.code,
        "kind": n.kind,
        "title": n.title,
        "body": n.body,
        "document_code": n.document_code,
        "deposited_at": n.deposited_at,
        "effective_on": n.effective_on,
        "read_at": n.read_at,
    }


@router.get("/inbox", response=list[NoticeOut])
def inbox(request: HttpRequest) -> Any:
    return [_notice(n) for n in inbox_page(request.user)]


@router.post("/inbox/{notice_id}/read", response=NoticeOut)
def read(request: HttpRequest, notice_id: int) -> Any:
    return _notice(actions.mark_read(request.user, notice_id))
