"""The citizen's casilla electrónica: unread notices first; opening one records its reading."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from tambo.core.errors import NotFound
from tambo.identity import policy

from . import actions
from .models import Notice


def inbox_page(user) -> list[Notice]:  # type: ignore[no-untyped-def]
    """The user's own notices, unread first (the query is the ownership filter)."""
    policy.require(user, "notice.list_own")
    return list(
        Notice.objects.filter(citizen=user)
        .select_related("filing", "agency")
        .order_by(F("read_at").asc(nulls_first=True), "-deposited_at")[:100]
    )


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    return render(request, "inbox/inbox.html", {"notices": inbox_page(request.user)})


@login_required
@require_GET
def notice(request: HttpRequest, notice_id: int) -> HttpResponse:
    try:
        item = actions.mark_read(request.user, notice_id)
    except NotFound:
        raise Http404 from None
    return render(request, "inbox/notice.html", {"n": item})
