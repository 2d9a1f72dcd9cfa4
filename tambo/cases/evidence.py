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
import uuid
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


def claim_lease() -> dt.timedelta:
    """How long a claimed attempt counts as in flight: past it, its worker is presumed dead."""
    return dt.timedelta(seconds=settings.TAMBO_EXCHANGE_TIMEOUT * 4 + 30)


def _claim(evidence_id: int) -> ObtainedEvidence | str:
    """Take the row for one attempt, or say why not (its status, or still pending).

    A second task for the same row (the sweep re-queued it while the first was only slow)
    finds the attempt claimed, or the next attempt not yet due, and does nothing: one row
    is never fetched twice at once. The attempt's request id is fixed here, before the
    network call, so the logs of both sides and the row name the same request.
    """
    with transaction.atomic():
        row = (
            ObtainedEvidence.objects.select_for_update(of=("self",))
            .select_related("filing__agency", "filing__procedure_version")
            .filter(pk=evidence_id)
            .first()
        )
        if row is None:
            return "missing"
        if row.status != Status.PENDING:
            return row.status
        now = clock.now()
        if row.next_attempt_at is not None and row.next_attempt_at > now:
            return Status.PENDING  # not due: the task queued for that time will do it
        if row.claimed_at is not None and row.claimed_at > now - claim_lease():
            return Status.PENDING  # another worker's attempt is in flight
        row.claimed_at, row.request_id = now, str(uuid.uuid4())
        row.save(update_fields=["claimed_at", "request_id"])
    return row


def fetch(evidence_id: int) -> str:
    """One attempt to obtain the evidence (the task's body); returns the resulting status.

    The network call happens outside any transaction; the result is then written, with
    its audit entry, in one short transaction on the row locked again — only if the row
    is still on this attempt (same request id).
    """
    from tambo.exchange.client import Purpose, obtain
    from tambo.exchange.errors import ExchangeError

    evidence = _claim(evidence_id)
    if isinstance(evidence, str):
        return evidence
    filing, request_id = evidence.filing, evidence.request_id
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
            request_id=request_id,
        )
    except ExchangeError as error:
        return _record_failure(
            evidence_id, request_id, error.code, error.message, retry=error.retry
        )
    with transaction.atomic():
        row = ObtainedEvidence.objects.select_for_update().get(pk=evidence_id)
        if row.status != Status.PENDING or row.request_id != request_id:
            return row.status
        row.status = Status.OBTAINED
        row.attempts += 1
        row.obtained_at = clock.now()
        row.next_attempt_at = row.claimed_at = None
        row.data = obtained.data
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
        _certificate_when_settled(row.filing_id)
    return Status.OBTAINED


def _record_failure(
    evidence_id: int, request_id: str, code: str, message: str, *, retry: bool
) -> str:
    with transaction.atomic():
        row = (
            ObtainedEvidence.objects.select_for_update(of=("self",))
            .select_related("filing__agency")
            .get(pk=evidence_id)
        )
        if row.status != Status.PENDING or row.request_id != request_id:
            return row.status
        row.attempts += 1
        row.claimed_at = None
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
                "request_id": request_id,
            },
        )
        if again:
            when = row.next_attempt_at
            transaction.on_commit(lambda: _enqueue(evidence_id, when))
        else:
            _certificate_when_settled(row.filing_id)
    return row.status


def _certificate_when_settled(filing_id: int) -> None:
    """Inside the transaction that settled a row: once none is pending, queue the constancia."""
    if ObtainedEvidence.objects.filter(filing_id=filing_id, status=Status.PENDING).exists():
        return
    if not ObtainedEvidence.objects.filter(
        filing_id=filing_id, status=Status.OBTAINED, reported_at__isnull=True
    ).exists():
        return

    def enqueue() -> None:
        from .tasks import issue_evidence_certificate_task

        try:
            issue_evidence_certificate_task.enqueue(filing_id)
        except Exception:  # the sweep issues constancias still due
            logger.exception("could not queue the constancia of filing %s", filing_id)

    transaction.on_commit(enqueue)


def _live_tasks(ids: set[int]) -> set[int]:
    """Of ``ids``, the rows a fetch task will still run for: queued, or started within the lease."""
    from django_tasks_db.models import DBTaskResult

    from .tasks import fetch_evidence_task

    started_after = clock.now() - claim_lease()
    live = set()
    for args_kwargs, status, started_at in DBTaskResult.objects.filter(
        task_path=fetch_evidence_task.module_path, status__in=["READY", "RUNNING"]
    ).values_list("args_kwargs", "status", "started_at"):
        args = (args_kwargs or {}).get("args") or [None]
        if status == "RUNNING" and (started_at is None or started_at < started_after):
            continue  # its worker died (killed, machine lost): the task row stays RUNNING
        if args[0] in ids:
            live.add(args[0])
    return live


def requeue_lost(limit: int = 1000) -> int:
    """Queue again the pending rows whose fetch task was lost (the sweep calls it).

    A row is lost when its next attempt is more than ``TAMBO_EXCHANGE_REQUEUE_AFTER_SECONDS``
    overdue, no fetch task for it is queued or running, and no attempt is in flight. The row
    is locked, its ``next_attempt_at`` moved to now and an audit entry written in the same
    transaction as the new task, so a concurrent or repeated sweep re-queues it once; a
    duplicate task would find the attempt claimed or not due (see :func:`_claim`).
    """
    now = clock.now()
    overdue = now - dt.timedelta(seconds=settings.TAMBO_EXCHANGE_REQUEUE_AFTER_SECONDS)
    candidates = set(
        ObtainedEvidence.objects.filter(status=Status.PENDING, next_attempt_at__lte=overdue)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not candidates:
        return 0
    requeued = 0
    for pk in sorted(candidates - _live_tasks(candidates)):
        with transaction.atomic():
            row = (
                ObtainedEvidence.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("filing__agency")
                .filter(pk=pk, status=Status.PENDING, next_attempt_at__lte=overdue)
                .first()
            )
            if row is None or (row.claimed_at and row.claimed_at > now - claim_lease()):
                continue
            if pk in _live_tasks({pk}):  # queued meanwhile (a retry committed after our look)
                continue
            abandoned = row.request_id if row.claimed_at else ""
            row.next_attempt_at, row.claimed_at = now, None
            row.save(update_fields=["next_attempt_at", "claimed_at"])
            audit.record(
                "filing.evidence_requeued",
                "filing",
                row.filing.number,
                agency_code=row.filing.agency.code,
                data={
                    "requirement": row.requirement,
                    "service": f"{row.service}/{row.version}",
                    "attempts": row.attempts,
                    "abandoned_request_id": abandoned,
                },
            )
            transaction.on_commit(lambda pk=pk: _enqueue(pk))
            requeued += 1
    if requeued:
        logger.warning("re-queued %s evidence fetches whose task was lost", requeued)
    return requeued


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
        row.status, row.next_attempt_at, row.claimed_at = Status.UPLOADED, None, None
        row.save(update_fields=["status", "next_attempt_at", "claimed_at"])
        audit.record(
            "filing.evidence_uploaded",
            "filing",
            filing.number,
            actor=citizen,
            agency_code=filing.agency.code,
            data={"requirement": requirement, "sha256": document.sha256, "size": document.size},
        )
        _certificate_when_settled(filing.pk)
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
