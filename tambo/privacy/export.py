"""The citizen's copy of their data (derecho de acceso, Ley 29733 art. 19): a ZIP archive.

``data.json`` holds the profile, drafts, expedientes (answers, history, consent), casilla
notices, the access log the citizen may see and their correction requests; ``documentos/``
holds the files they uploaded and the documents issued to them. The archive is written to a
temporary file on disk and streamed from there, so memory stays bounded however many
documents there are.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from typing import IO, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from tambo.core import audit, clock
from tambo.identity import policy

from .models import AccessEntry, Consent, CorrectionRequest
from .queries import visible_to_citizen

CHUNK = 2000


def _profile(user: Any) -> dict[str, Any]:
    return {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "phone": user.phone,
        "document_type": user.document_type,
        "document_number": user.document_number,
        "language": user.language,
        "date_joined": user.date_joined,
    }


def _doc(document: Any, path: str | None) -> dict[str, Any]:
    return {
        "field": document.field_name,
        "name": document.original_name,
        "media_type": document.media_type,
        "size": document.size,
        "sha256": document.sha256,
        "uploaded_at": document.uploaded_at,
        "file": path,
    }


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:80] or "archivo"


def build_archive(citizen: Any) -> IO[bytes]:
    """Write the citizen's archive to a temporary file and return it, positioned at the start."""
    from tambo.cases import queries as case_queries
    from tambo.cases.models import Draft, Filing
    from tambo.inbox.models import Notice

    policy.require(citizen, "data.export_own")
    target = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the response, closed by it
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def add_file(stored: Any, arcname: str) -> str | None:
            if not stored:
                return None  # removed at the end of its retention period
            with stored.open("rb") as source, archive.open(arcname, "w") as sink:
                shutil.copyfileobj(source, sink, 1024 * 1024)
            return arcname

        drafts = []
        for draft in (
            Draft.objects.filter(citizen=citizen, filing__isnull=True)
            .select_related("procedure_version__procedure__agency")
            .prefetch_related("documents")
            .order_by("created_at")
            .iterator(chunk_size=CHUNK)
        ):
            docs = [
                _doc(
                    d,
                    add_file(d.file, f"documentos/borradores/{draft.pk}/{_safe(d.original_name)}"),
                )
                for d in draft.documents.all()
            ]
            drafts.append(
                {
                    "id": str(draft.pk),
                    "agency": draft.procedure_version.procedure.agency.code,
                    "procedure": draft.procedure_version.procedure.code,
                    "answers": draft.answers,
                    "documents": docs,
                    "created_at": draft.created_at,
                    "updated_at": draft.updated_at,
                }
            )
        consents = {c.filing_id: c for c in Consent.objects.filter(citizen=citizen)}
        filings = []
        for filing in (
            Filing.objects.filter(citizen=citizen)
            .select_related("agency", "procedure_version__procedure")
            .prefetch_related("documents")
            .order_by("submitted_at", "pk")
            .iterator(chunk_size=CHUNK)
        ):
            folder = f"documentos/{filing.number}"
            docs = [
                _doc(d, add_file(d.file, f"{folder}/{_safe(d.original_name)}"))
                for d in filing.documents.all()
            ]
            issued = [
                {
                    "code": i.code,
                    "kind": i.kind,
                    "title": i.title,
                    "issued_at": i.issued_at,
                    "sha256": i.sha256,
                    "file": add_file(i.file, f"{folder}/emitidos/{i.code}.pdf"),
                }
                for i in case_queries.issued_documents(filing)
            ]
            consent = consents.get(filing.pk)
            filings.append(
                {
                    "number": filing.number,
                    "agency": filing.agency.code,
                    "procedure": filing.procedure_version.procedure.code,
                    "version": filing.procedure_version.number,
                    "status": filing.status,
                    "submitted_at": filing.submitted_at,
                    "received_on": filing.received_on,
                    "due_on": filing.due_on,
                    "fee": filing.fee,
                    "answers": filing.answers,
                    "timeline": [
                        {"at": e.at, "event": e.action, "data": e.data}
                        for e in case_queries.timeline(filing)
                    ],
                    "documents": docs,
                    "issued_documents": issued,
                    "consent": (
                        {
                            "text": consent.text,
                            "sha256": consent.text_sha256,
                            "given_at": consent.given_at,
                        }
                        if consent
                        else None
                    ),
                }
            )
        notices = [
            {
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
            for n in Notice.objects.filter(citizen=citizen)
            .select_related("filing", "agency")
            .order_by("deposited_at")
            .iterator(chunk_size=CHUNK)
        ]
        accesses = [
            {
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
            for a in AccessEntry.objects.filter(visible_to_citizen(), citizen=citizen)
            .order_by("at", "pk")
            .iterator(chunk_size=CHUNK)
        ]
        corrections = [
            {
                "filing": c.filing_number,
                "text": c.text,
                "status": c.status,
                "response": c.response,
                "created_at": c.created_at,
                "resolved_at": c.resolved_at,
            }
            for c in CorrectionRequest.objects.filter(citizen=citizen).order_by("created_at")
        ]
        data = {
            "generated_at": clock.now(),
            "profile": _profile(citizen),
            "drafts": drafts,
            "filings": filings,
            "notices": notices,
            "accesses": accesses,
            "correction_requests": corrections,
        }
        with archive.open("data.json", "w") as sink:
            for chunk in json.JSONEncoder.iterencode(
                DjangoJSONEncoder(ensure_ascii=False, indent=1), data
            ):
                sink.write(chunk.encode("utf-8"))
    with transaction.atomic():
        audit.record(
            "privacy.data_exported",
            "citizen",
            citizen.pk,
            actor=citizen,
            data={"filings": len(filings), "drafts": len(drafts), "size": target.tell()},
        )
    target.seek(0)
    return target


def chunks(handle: IO[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    try:
        while block := handle.read(size):
            yield block
    finally:
        handle.close()
