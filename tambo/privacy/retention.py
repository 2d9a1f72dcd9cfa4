"""Apply each procedure's retention periods: old concluded expedientes lose their uploaded
documents and their answers; abandoned drafts are deleted.

A procedure file declares ``retention_years`` (default 10) and ``draft_retention_days``
(default 90).

- **Expedientes** concluded for longer than ``retention_years``: the uploaded files are
  deleted (the rows keep name, size and SHA-256, marked removed with an empty file); the
  answers, which hold the citizen's personal data, are replaced by a *tombstone*
  (``cases.models.ANSWERS_REMOVED_KEY``: when and under which period they were removed;
  pages show the answers as removed); the draft they
  were filed from is deleted. What the audit log and the statistics need stays: the
  expediente row (number, procedure, agency, unit, citizen, dates, status, fee), its
  history, issued documents and every audit entry. One ``filing.retention_applied`` entry
  per expediente names the documents and the answer fields removed (never their values).
- **Drafts** never filed whose last change is older than ``draft_retention_days`` are
  deleted with their uploaded files; one ``draft.retention_deleted`` entry each.

The work is set-based and batched: per retention period one indexed range, walked by key in
batches of :data:`BATCH`, each batch in its own transaction. Running it again changes
nothing (expedientes already handled carry ``retention_applied_at`` and the tombstone).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce

from tambo.core import audit, clock

BATCH = 500


@dataclass
class RetentionReport:
    cases: int = 0
    documents: int = 0
    bytes: int = 0
    answers: int = 0  # expedientes whose answers were replaced by the tombstone
    drafts: int = 0
    draft_documents: int = 0
    numbers: list[str] = field(default_factory=list)


def years_before(moment: dt.datetime, years: int) -> dt.datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)


def tombstone(now: dt.datetime, years: int) -> dict[str, Any]:
    """What an expediente's answers become: when and under which period they were removed."""
    from tambo.cases.models import ANSWERS_REMOVED_KEY

    return {ANSWERS_REMOVED_KEY: {"removed_at": now.isoformat(), "retention_years": years}}


def _periods(attribute: str) -> dict[int, list[int]]:
    """Procedure version ids grouped by one of their retention periods."""
    from tambo.catalog.models import ProcedureVersion

    groups: dict[int, list[int]] = defaultdict(list)
    for version in ProcedureVersion.objects.only("pk", "spec", "content_hash").iterator(2000):
        groups[getattr(version.file, attribute)].append(version.pk)
    return groups


def apply_retention(
    *, now: dt.datetime | None = None, dry_run: bool = False, batch: int = BATCH
) -> RetentionReport:
    now = now or clock.now()
    report = RetentionReport()
    for years, version_ids in sorted(_periods("retention_years").items()):
        _expedientes(years_before(now, years), years, version_ids, now, dry_run, batch, report)
    for days, version_ids in sorted(_periods("draft_retention_days").items()):
        _drafts(now - dt.timedelta(days=days), days, version_ids, dry_run, batch, report)
    return report


def _expedientes(
    cutoff: dt.datetime,
    years: int,
    version_ids: list[int],
    now: dt.datetime,
    dry_run: bool,
    batch: int,
    report: RetentionReport,
) -> None:
    from tambo.cases.models import ANSWERS_REMOVED_KEY, Document, Draft, Filing

    # Not handled yet, or handled before answers were covered (documents only).
    pending = Q(retention_applied_at__isnull=True) | ~Q(answers__has_key=ANSWERS_REMOVED_KEY)
    due = Filing.objects.filter(
        Q(decided_at__lt=cutoff) | Q(decided_at__isnull=True, updated_at__lt=cutoff),
        pending,
        procedure_version_id__in=version_ids,
        is_open=False,
    )
    last = 0
    while True:
        cases = list(
            due.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "number", "agency__code", "answers")[:batch]
        )
        if not cases:
            break
        last = cases[-1][0]
        ids = [c[0] for c in cases]
        with transaction.atomic():
            documents = list(
                Document.objects.filter(filing_id__in=ids)
                .exclude(file="")
                .values_list("pk", "filing_id", "file", "size")
            )
            report.cases += len(cases)
            report.documents += len(documents)
            report.bytes += sum(d[3] for d in documents)
            report.answers += len(cases)
            report.numbers += [c[1] for c in cases]
            if dry_run:
                continue
            # Claim the cases (a concurrent run may have taken some) and tombstone the answers.
            taken = (
                Filing.objects.filter(pk__in=ids)
                .filter(pending)
                .update(
                    retention_applied_at=Coalesce(F("retention_applied_at"), Value(now)),
                    answers=tombstone(now, years),
                )
            )
            if taken != len(ids):
                raise RuntimeError("retention ran twice at once; run it again")
            Document.objects.filter(pk__in=[d[0] for d in documents]).update(file="")
            # The draft a case was filed from holds a copy of the answers.
            Draft.objects.filter(filing__in=ids).delete()
            per_case: dict[int, list[str]] = defaultdict(list)
            for pk, filing_id, _name, _size in documents:
                per_case[filing_id].append(str(pk))
            audit.record_many(
                [
                    {
                        "action": "filing.retention_applied",
                        "object_type": "filing",
                        "object_id": number,
                        "agency_code": agency,
                        "data": {
                            "retention_years": years,
                            "documents_removed": per_case.get(pk, []),
                            "answers_removed": sorted(answers or {}),
                        },
                    }
                    for pk, number, agency, answers in cases
                ],
                actor="retention",
            )
            names = [d[2] for d in documents]
            transaction.on_commit(lambda names=names: _delete_files(names))


def _drafts(
    cutoff: dt.datetime,
    days: int,
    version_ids: list[int],
    dry_run: bool,
    batch: int,
    report: RetentionReport,
) -> None:
    from tambo.cases.models import Document, Draft

    abandoned = Draft.objects.filter(
        procedure_version_id__in=version_ids, filing__isnull=True, updated_at__lt=cutoff
    )
    last = None
    while True:
        page = abandoned.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        ids = list(page.values_list("pk", flat=True)[:batch])
        if not ids:
            break
        last = ids[-1]
        with transaction.atomic():
            # Locked and checked again: a citizen may have just edited or filed one.
            drafts = list(
                abandoned.select_for_update(skip_locked=True, of=("self",))
                .filter(pk__in=ids)
                .values_list("pk", "procedure_version__procedure__agency__code")
            )
            taken = [pk for pk, _agency in drafts]
            documents = list(
                Document.objects.filter(draft_id__in=taken, filing__isnull=True).values_list(
                    "pk", "draft_id", "file"
                )
            )
            report.drafts += len(drafts)
            report.draft_documents += len(documents)
            if dry_run or not drafts:
                continue
            per_draft: dict[Any, int] = defaultdict(int)
            for _pk, draft_id, _name in documents:
                per_draft[draft_id] += 1
            audit.record_many(
                [
                    {
                        "action": "draft.retention_deleted",
                        "object_type": "draft",
                        "object_id": pk,
                        "agency_code": agency,
                        "data": {
                            "draft_retention_days": days,
                            "documents_removed": per_draft.get(pk, 0),
                        },
                    }
                    for pk, agency in drafts
                ],
                actor="retention",
            )
            Document.objects.filter(pk__in=[d[0] for d in documents]).delete()
            Draft.objects.filter(pk__in=taken).delete()
            names = [d[2] for d in documents if d[2]]
            transaction.on_commit(lambda names=names: _delete_files(names))


def _delete_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)
