"""Apply each procedure's retention period: remove the documents of old concluded expedientes.

A procedure file declares ``retention_years`` (default 10). Once an expediente has been
concluded for longer than that, its uploaded documents are removed (the files are deleted,
the rows keep name, size and SHA-256, marked removed with an empty file); the expediente,
its answers and every audit entry stay. One audit entry per expediente says what was
removed. The work is set-based: per retention period one indexed range of concluded
cases, walked by key in batches; running it again changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q

from tambo.core import audit, clock

BATCH = 500


@dataclass
class RetentionReport:
    cases: int = 0
    documents: int = 0
    bytes: int = 0
    numbers: list[str] = field(default_factory=list)


def years_before(moment: dt.datetime, years: int) -> dt.datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)


def _periods() -> dict[int, list[int]]:
    """Procedure version ids grouped by their retention period in years."""
    from tambo.catalog.models import ProcedureVersion

    groups: dict[int, list[int]] = defaultdict(list)
    for version in ProcedureVersion.objects.only("pk", "spec", "content_hash").iterator(2000):
        groups[version.file.retention_years].append(version.pk)
    return groups


def apply_retention(
    *, now: dt.datetime | None = None, dry_run: bool = False, batch: int = BATCH
) -> RetentionReport:
    from tambo.cases.models import Document, Filing

    now = now or clock.now()
    report = RetentionReport()
    for years, version_ids in sorted(_periods().items()):
        cutoff = years_before(now, years)
        due = Filing.objects.filter(
            Q(decided_at__lt=cutoff) | Q(decided_at__isnull=True, updated_at__lt=cutoff),
            procedure_version_id__in=version_ids,
            is_open=False,
            retention_applied_at__isnull=True,
        )
        last = 0
        while True:
            cases = list(
                due.filter(pk__gt=last)
                .order_by("pk")
                .values_list("pk", "number", "agency__code")[:batch]
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
                report.numbers += [c[1] for c in cases]
                if dry_run:
                    continue
                # Only the cases still untouched (a concurrent run may have taken some).
                taken = Filing.objects.filter(pk__in=ids, retention_applied_at__isnull=True).update(
                    retention_applied_at=now
                )
                if taken != len(ids):
                    raise RuntimeError("retention ran twice at once; run it again")
                Document.objects.filter(pk__in=[d[0] for d in documents]).update(file="")
                per_case: dict[int, list[str]] = defaultdict(list)
                for _pk, filing_id, _name, _size in documents:
                    per_case[filing_id].append(str(_pk))
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
                            },
                        }
                        for pk, number, agency in cases
                    ],
                    actor="retention",
                )
                names = [d[2] for d in documents]
                transaction.on_commit(lambda names=names: _delete_files(names))
    return report


def _delete_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)
