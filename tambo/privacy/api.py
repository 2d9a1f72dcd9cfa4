"""``GET /me/accesses`` (who read my data, by key), ``GET /me/data.zip`` (a copy of it) and
``POST /office/filings/{number}/reserve`` (a supervisor's legal reserve)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import FileResponse, HttpRequest
from ninja import Router, Schema

from . import actions, queries
from .export import build_archive

router = Router(tags=["datos personales"])


class AccessOut(Schema):
    id: int
    at: dt.datetime
    who: str
    agency: str
    agency_name: str
    category: str
    detail: str
    filing: str
    purpose: str
    legal_basis: str


class AccessPageOut(Schema):
    items: list[AccessOut]
    next: str | None


@router.get("/me/accesses", response=AccessPageOut)
def my_accesses(request: HttpRequest, before: str | None = None) -> Any:
    """Who read my data, newest first; pass ``next`` back as ``before`` for the next page."""
    rows, next_cursor = queries.access_page(request.user, queries.parse_cursor(before))
    return {
        "items": [
            {
                "id": a.pk,
                "at": a.at,
                "who": a.accessor_label,
                "agency": a.agency_code,
                "agency_name": a.agency_name,
                "category": a.category,
                "detail": a.detail,
                "filing": a.filing_number,
                "purpose": a.purpose,
                "legal_basis": a.legal_basis,
            }
            for a in rows
        ],
        "next": next_cursor,
    }


@router.get("/me/data.zip")
def my_data(request: HttpRequest) -> FileResponse:
    """A ZIP with data.json and every document Tambo holds about me."""
    return FileResponse(
        build_archive(request.user),
        as_attachment=True,
        filename="mis-datos.zip",
        content_type="application/zip",
    )


class ReserveIn(Schema):
    until: dt.date | None
    reason: str


class ReserveOut(Schema):
    number: str
    reserved_until: dt.date | None


@router.post("/office/filings/{number}/reserve", response=ReserveOut)
def reserve(request: HttpRequest, number: str, payload: ReserveIn) -> Any:
    """Put the expediente under legal reserve through ``until`` (``null`` lifts it).

    Supervisors of the case's unit only (403 ``forbidden``; 404 for other agencies).
    """
    filing = actions.place_reserve(request.user, number, payload.until, payload.reason)
    return {"number": filing.number, "reserved_until": filing.reserved_until}
