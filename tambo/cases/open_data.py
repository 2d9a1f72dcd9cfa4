"""Open data: the once-only figure, public and without a session (``open_data.view``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from tambo.identity import policy

from .evidence import once_only_figure

router = Router(tags=["open data"])


class OnceOnlyRow(Schema):
    agency: str
    procedure: str
    month: str
    documents: int


class OnceOnlyOut(Schema):
    description: str
    rows: list[OnceOnlyRow]


@router.get("/open-data/once-only", response=OnceOnlyOut, auth=None)
def once_only(request: HttpRequest) -> Any:
    """Documents citizens no longer had to bring, per procedure and month (America/Lima)."""
    policy.require(request.user, "open_data.view")
    return {
        "description": "Documents obtained from another agency instead of brought by the "
        "citizen (TUO Ley 27444, art. 48), per procedure and month of America/Lima.",
        "rows": once_only_figure(),
    }
