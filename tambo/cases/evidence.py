"""Requirements obtained from other agencies (once-only, TUO Ley 27444 art. 48).

At filing, each requirement declared ``obtained_from`` a data service (and not uploaded
instead) gets a pending :class:`ObtainedEvidence` row inside the filing's transaction; the
fetch itself runs after commit as a background task, so a slow or absent provider never
holds a filing back. A provider that does not answer is retried with exponential backoff
up to ``TAMBO_EXCHANGE_MAX_ATTEMPTS``; a refusal or a wrong answer fails at once. When it
failed, the citizen may upload the document instead.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext as _

from tambo.core import audit, clock
from tambo.core.errors import Conflict, NotFound
from tambo.identity import policy

from .models import Document, Filing, ObtainedEvidence

logger = logging.getLogger(__name__)

Status = ObtainedEvidence.Status


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next attempt: base * 2^(attempts-1), capped at one day."""
    seconds = settings.TAMBO_EXCHANGE_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return dt.timedelta(seconds=min(seconds, 86400))


def _query(source: Any, citizen: Any, answers: dict[str, Any]) -> dict[str, str]:
    values = {}
    for key, origin in source.query.items():
        scope, _dot, name = origin.partition(".")
        value = getattr(citizen, name, "") if scope == "citizen" else answers.get(name, "")
        values[key] = str(value or "")
    return values


def create_pending(filing: Filing, documents: list[Document]) -> list[ObtainedEvidence]:
    """Inside the filing's transaction: one pending row per obtained requirement not uploaded."""
    spec = filing.procedure_version.file
    wanted = spec.obtained_requirements()
    if not wanted:
        return []
    from tambo.exchange.registry import registry

    uploaded = {d.field_name for d in documents}
    rows = []
    for req in wanted:
        source = req.obtained_from
        service = registry().service(source.service, source.version)
        rule = service.allows(filing.agency.code, spec.code) if service else None
        if (req.field and req.field in uploaded) or rule is None:
            continue
        rows.append(
            ObtainedEvidence(
                filing=filing,
                requirement=req.id,
                service=source.service,
                version=source.version,
                provider=service.owner,
                query=_query(source, filing.citizen, filing.answers),
                legal_basis=rule.legal_basis[:300],
                next_attempt_at=filing.submitted_at,
            )
        )
    ObtainedEvidence.objects.bulk_create(rows)
    ids = [r.pk for r in ObtainedEvidence.objects.filter(filing=filing)]
    transaction.on_commit(lambda: [_enqueue(pk) for pk in ids])
    return rows


def _enqueue(evidence_id: int, run_after: dt.datetime | None = None) -> None:
    from .tasks import fetch_evidence_task

    task = fetch_evidence_task.using(run_after=run_after) if run_after else fetch_evidence_task
    task.enqueue(evidence_id)


def fetch(evidence_id: int) -> str:
    """One attempt to obtain the evidence (the task's body); returns the resulting status.

    The network call happens outside any transaction; the result is then written, with
    its audit entry, in one short transaction on the row locked again.
    """
    from tambo.exchange.client import Purpose, obtain
    from tambo.exchange.errors import ExchangeError

    evidence = (
        ObtainedEvidence.objects.select_related("filing__agency", "filing__procedure_version")
        .filter(pk=evidence_id)
        .first()
    )
    if evidence is None or evidence.status != Status.PENDING:
        return evidence.status if evidence else "missing"
    filing = evidence.filing
    purpose = Purpose(filing.number, filing.procedure_version.file.code, evidence.legal_basis)
    try:
        obtained = obtain(
            filing.agency.code,
            evidence.service,
            evidence.version,
            evidence.query,
            purpose,
            subject_document=":".join(
                evidence.query.get(k, "") for k in ("document_type", "document_number")
            ).strip(":"),
            timeout=settings.TAMBO_EXCHANGE_TIMEOUT,
        )
    except ExchangeError as error:
        return _record_failure(evidence_id, error.code, error.message, retry=error.retry)
    with transaction.atomic():
        row = ObtainedEvidence.objects.select_for_update().get(pk=evidence_id)
        if row.status != Status.PENDING:
            return row.status
        row.status = Status.OBTAINED
        row.attempts += 1
        row.obtained_at = clock.now()
        row.next_attempt_at = None
        row.data = obtained.data
        row.request_id = obtained.request_id
        row.last_error = row.error_code = ""
        row.save()
        audit.record(
            "filing.evidence_obtained",
            "filing",
            filing.number,
            agency_code=filing.agency.code,
            data={
                "requirement": row.requirement,
                "service": f"{row.service}/{row.version}",
                "provider": row.provider,
                "request_id": obtained.request_id,
            },
        )
    return Status.OBTAINED


def _record_failure(evidence_id: int, code: str, message: str, *, retry: bool) -> str:
    with transaction.atomic():
        row = (
            ObtainedEvidence.objects.select_for_update()
            .select_related("filing__agency")
            .get(pk=evidence_id)
        )
        if row.status != Status.PENDING:
            return row.status
        row.attempts += 1
        row.error_code, row.last_error = code, message[:300]
        again = retry and row.attempts < settings.TAMBO_EXCHANGE_MAX_ATTEMPTS
        if again:
            row.next_attempt_at = clock.now() + backoff(row.attempts)
        else:
            row.status, row.next_attempt_at = Status.FAILED, None
        row.save()
        logger.warning(
            "evidence %s for %s: %s (%s), attempt %s%s",
            row.requirement,
            row.filing.number,
            code,
            message,
            row.attempts,
            ", will retry" if again else ", failed",
        )
        audit.record(
            "filing.evidence_retry" if again else "filing.evidence_failed",
            "filing",
            row.filing.number,
            agency_code=row.filing.agency.code,
            data={
                "requirement": row.requirement,
                "service": f"{row.service}/{row.version}",
                "provider": row.provider,
                "code": code,
                "attempts": row.attempts,
            },
        )
        if again:
            when = row.next_attempt_at
            transaction.on_commit(lambda: _enqueue(evidence_id, when))
    return row.status


def upload_instead(
    citizen: Any, number: str, requirement: str, stream: IO[bytes], filename: str
) -> Document:
    """The citizen uploads the document whose fetch failed (or is still pending)."""
    from .actions import _store_document, _storing

    with _storing() as stored, transaction.atomic():
        filing = Filing.objects.select_related("agency").filter(number=number).first()
        if filing is None:
            raise NotFound(_("No encontramos ese expediente."))
        # Its citizen only; the case's officials see it, so they are told 403, others 404.
        policy.require(citizen, "filing.upload_instead", filing)
        row = (
            ObtainedEvidence.objects.select_for_update()
            .filter(filing=filing, requirement=requirement)
            .first()
        )
        spec = filing.procedure_version.file
        req = next((r for r in spec.obtained_requirements() if r.id == requirement), None)
        if row is None or req is None or not req.field:
            raise NotFound(_("Este requisito no admite subir un documento."))
        if row.status not in (Status.FAILED, Status.PENDING):
            raise Conflict(_("Este documento ya se obtuvo o ya se subió."), code="evidence_closed")
        document = _store_document(
            stored, citizen, spec, req.field, stream, filename, already=0, filing=filing
        )
        row.status, row.next_attempt_at = Status.UPLOADED, None
        row.save(update_fields=["status", "next_attempt_at"])
        audit.record(
            "filing.evidence_uploaded",
            "filing",
            filing.number,
            actor=citizen,
            agency_code=filing.agency.code,
            data={"requirement": requirement, "sha256": document.sha256, "size": document.size},
        )
    return document


def once_only_figure(agency_code: str | None = None) -> list[dict[str, Any]]:
    """Per procedure and month (Lima): documents obtained instead of brought by the citizen."""
    rows = ObtainedEvidence.objects.filter(status=Status.OBTAINED)
    if agency_code:
        rows = rows.filter(filing__agency__code=agency_code)
    grouped = (
        rows.annotate(month=TruncMonth("obtained_at", tzinfo=clock.LIMA))
        .values("filing__agency__code", "filing__procedure_version__procedure__code", "month")
        .annotate(documents=Count("id"))
        .order_by("month", "filing__agency__code", "filing__procedure_version__procedure__code")
    )
    return [
        {
            "agency": g["filing__agency__code"],
            "procedure": g["filing__procedure_version__procedure__code"],
            "month": g["month"].strftime("%Y-%m"),
            "documents": g["documents"],
        }
        for g in grouped
    ]
