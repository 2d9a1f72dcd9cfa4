"""Citizen endpoints: drafts, uploads, filing (idempotent), my expedientes, public status."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, File, Header, Router, Schema, Status
from ninja.files import UploadedFile

from tambo.catalog import queries as catalog_queries
from tambo.core import ratelimit
from tambo.core.downloads import attachment
from tambo.core.errors import NotFound
from tambo.identity import policy
from tambo.privacy.access import record_filing_access

from . import actions, queries
from .presenters import filing_view, timeline_rows
from .receipt import receipt_pdf

router = Router(tags=["expedientes"])


class DocumentOut(Schema):
    id: UUID
    field: str
    name: str
    media_type: str
    size: int
    sha256: str


class DraftOut(Schema):
    id: UUID
    agency: str
    procedure: str
    version: int
    answers: dict[str, Any]
    documents: list[DocumentOut]
    updated_at: dt.datetime


class StartDraftIn(Schema):
    agency: str = Field(examples=["MDSI"])
    procedure: str = Field(examples=["ACCESO-INFORMACION"])


class AnswersIn(Schema):
    answers: dict[str, Any]


class FileDirectlyIn(Schema):
    agency: str
    procedure: str
    answers: dict[str, Any]
    consent: bool = False


class EventOut(Schema):
    at: dt.datetime
    title: str
    detail: str


class FilingOut(Schema):
    number: str
    agency: str
    procedure: str
    procedure_name: str
    version: int
    status: str
    status_label: str
    submitted_at: dt.datetime
    received_on: dt.date
    term_starts_on: dt.date
    due_on: dt.date
    fee: Decimal
    access_code: str
    documents: list[DocumentOut]
    receipt_url: str


class FilingDetailOut(FilingOut):
    answers: dict[str, Any]
    timeline: list[EventOut]


class StatusIn(Schema):
    number: str
    access_code: str


class StatusOut(Schema):
    number: str
    status: str
    status_label: str
    received_on: dt.date
    due_on: dt.date
    timeline: list[EventOut]


def _doc(d: Any) -> dict[str, Any]:
    return {
        "id": d.pk,
        "field": d.field_name,
        "name": d.original_name,
        "media_type": d.media_type,
        "size": d.size,
        "sha256": d.sha256,
    }


def _draft(d: Any) -> dict[str, Any]:
    v = d.procedure_version
    return {
        "id": d.pk,
        "agency": v.procedure.agency.code,
        "procedure": v.procedure.code,
        "version": v.number,
        "answers": d.answers,
        "documents": [_doc(x) for x in d.documents.all()],
        "updated_at": d.updated_at,
    }


def _filing(f: Any) -> dict[str, Any]:
    view = filing_view(f)
    return {
        "number": f.number,
        "agency": f.agency.code,
        "procedure": f.procedure_version.procedure.code,
        "procedure_name": view.procedure_name,
        "version": f.procedure_version.number,
        "status": f.status,
        "status_label": view.status_label,
        "submitted_at": f.submitted_at,
        "received_on": f.received_on,
        "term_starts_on": f.term_starts_on,
        "due_on": f.due_on,
        "fee": f.fee,
        "access_code": f.access_code,
        "documents": [_doc(d) for d in view.documents],
        "receipt_url": f"/api/v1/filings/{f.number}/receipt.pdf",
    }


def _events(filing: Any) -> list[dict[str, Any]]:
    return [
        {"at": r.at, "title": r.title, "detail": r.detail}
        for r in timeline_rows(filing, queries.timeline(filing))
    ]


def _get_draft(request: HttpRequest, draft_id: UUID) -> Any:
    try:
        return queries.get_draft(request.user, draft_id)
    except NotFound:
        raise Http404 from None


@router.post("/drafts", response={201: DraftOut})
def start_draft(request: HttpRequest, payload: StartDraftIn) -> Any:
    procedure = catalog_queries.get_procedure(payload.agency, payload.procedure)
    if procedure is None:
        raise NotFound("No such procedure.", field="procedure")
    return Status(201, _draft(actions.start_draft(request.user, procedure.current_version)))


@router.get("/drafts/{draft_id}", response=DraftOut)
def get_draft(request: HttpRequest, draft_id: UUID) -> Any:
    return _draft(_get_draft(request, draft_id))


@router.patch("/drafts/{draft_id}", response=DraftOut)
def save_answers(request: HttpRequest, draft_id: UUID, payload: AnswersIn) -> Any:
    """Save answers; wrong values are reported (422) and the valid ones are kept."""
    return _draft(actions.save_answers(request.user, draft_id, payload.answers))


@router.delete("/drafts/{draft_id}", response={204: None})
def discard_draft(request: HttpRequest, draft_id: UUID) -> Any:
    actions.discard_draft(request.user, draft_id)
    return Status(204, None)


@router.post("/drafts/{draft_id}/documents/{field}", response={201: DocumentOut})
def upload(request: HttpRequest, draft_id: UUID, field: str, file: File[UploadedFile]) -> Any:
    """Attach a file to a file field of the draft (multipart, part name ``file``)."""
    document = actions.attach_document(request.user, draft_id, field, file, file.name or "archivo")
    return Status(201, _doc(document))


@router.delete("/drafts/{draft_id}/documents/{field}", response={204: None})
def remove_document(request: HttpRequest, draft_id: UUID, field: str) -> Any:
    actions.remove_document(request.user, draft_id, field)
    return Status(204, None)


@router.post("/drafts/{draft_id}/submit", response={200: FilingOut, 201: FilingOut})
def submit(
    request: HttpRequest,
    draft_id: UUID,
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", min_length=1, max_length=80
    ),
    consent: bool = False,
) -> Any:
    """File the draft. Repeating it (same draft or same Idempotency-Key) returns the same expediente (200).

    ``consent=true``: the citizen accepts the procedure's consent text (422 ``consent`` if it
    declares one and this is missing).
    """
    ratelimit.check(request, "filing", per_user=True)
    result = actions.submit_draft(
        request.user, draft_id, idempotency_key=idempotency_key, channel="api", data_consent=consent
    )
    return Status(201 if result.created else 200, _filing(result.filing))


@router.post("/filings", response={200: FilingOut, 201: FilingOut})
def file_directly(
    request: HttpRequest,
    payload: FileDirectlyIn,
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", min_length=1, max_length=80
    ),
) -> Any:
    """File a procedure that needs no uploads in one request."""
    ratelimit.check(request, "filing", per_user=True)
    procedure = catalog_queries.get_procedure(payload.agency, payload.procedure)
    if procedure is None:
        raise NotFound("No such procedure.", field="procedure")
    result = actions.file_directly(
        request.user,
        procedure,
        payload.answers,
        idempotency_key=idempotency_key,
        data_consent=payload.consent,
    )
    return Status(201 if result.created else 200, _filing(result.filing))


@router.get("/filings", response=list[FilingOut])
def my_filings(request: HttpRequest, before: str | None = None) -> Any:
    """My expedientes, newest first; pass ``before`` = the last item's ``submitted_at|id`` cursor."""
    cursor = None
    if before:
        try:
            at, pk = before.rsplit("|", 1)
            cursor = (dt.datetime.fromisoformat(at), int(pk))
        except ValueError:
            from tambo.core.errors import DomainError

            raise DomainError("Invalid cursor.", code="invalid_cursor", field="before") from None
    return [_filing(f) for f in queries.my_filings_page(request.user, cursor)]


@router.get("/filings/{number}", response=FilingDetailOut)
def filing_detail(request: HttpRequest, number: str) -> Any:
    filing = queries.get_filing(request.user, number)
    record_filing_access(request.user, filing, [("filing", "")])
    return {**_filing(filing), "answers": filing.answers, "timeline": _events(filing)}


@router.get(
    "/filings/{number}/receipt.pdf",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The signed receipt (cargo) as a PDF file",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def filing_receipt(request: HttpRequest, number: str) -> HttpResponse:
    filing = queries.get_filing(request.user, number)
    policy.require(request.user, "filing.receipt", filing)
    record_filing_access(request.user, filing, [("receipt", filing.number)])
    return attachment(receipt_pdf(filing), f"cargo-{filing.number}.pdf", "application/pdf")


@router.post("/status", response=StatusOut, auth=None)
def status(request: HttpRequest, payload: StatusIn) -> Any:
    """Status of an expediente for anyone holding its number and access code (nothing else)."""
    ratelimit.check(request, "status")
    policy.require(request.user, "filing.status_by_code")
    filing = queries.filing_by_access_code(payload.number[:40], payload.access_code[:12])
    if filing is None:
        raise NotFound("No expediente with that number and access code.", code="not_found")
    view = filing_view(filing)
    return {
        "number": filing.number,
        "status": filing.status,
        "status_label": view.status_label,
        "received_on": filing.received_on,
        "due_on": filing.due_on,
        "timeline": _events(filing),
    }
