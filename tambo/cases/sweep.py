"""The sweep (``tambo sweep``): apply what the calendar decides, for every open expediente at once.

Set-based: each step selects the expedientes it concerns with one indexed query, in batches
locked with SKIP LOCKED, and changes them with bulk UPDATEs and INSERTs — no Python loop over
all open cases. Idempotent: every step only selects cases it has not handled yet (their
state or a timestamp changes in the same transaction), and notices that must exist once carry
a unique key, so running it twice changes nothing more and sends no second notice. A crash
between batches loses nothing: the next run takes the remaining cases.

Steps (TUO of Ley 27444): observations not corrected in time -> not filed (art. 136.4);
automatic approval (art. 33); positive silence (art. 199.1); negative silence -> the citizen is
told they may appeal (art. 199.3); officials warned when cases become due soon and overdue.
Documents the sweep decides (silence certificates) are signed afterwards by
:func:`issue_pending_documents`, so a slow signer never holds the sweep.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import translation
from django.utils.translation import gettext_lazy

from tambo.catalog.models import Agency, ProcedureVersion
from tambo.catalog.texts import localize
from tambo.catalog.workflow import Workflow, default_workflow
from tambo.core import audit, clock
from tambo.identity.language import in_language_of, normalize
from tambo.identity.models import User
from tambo.inbox.actions import effective_date
from tambo.inbox.models import Notice, OfficialAlert

from .models import Filing

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, step: str, n: int) -> None:
        self.counts[step] = self.counts.get(step, 0) + n

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _workflows() -> Iterator[tuple[Q, Workflow]]:
    """Each workflow in use with the filter selecting its expedientes (default first)."""
    custom = list(ProcedureVersion.objects.filter(spec__has_key="workflow").only("pk", "spec"))
    yield ~Q(procedure_version_id__in=[v.pk for v in custom]), default_workflow()
    for version in custom:
        yield Q(procedure_version_id=version.pk), version.workflow


def _batches(queryset: QuerySet[Filing]) -> Iterator[list[tuple[int, str]]]:
    """Lock and yield batches of ``(id, status)`` of matching expedientes.

    The caller changes each batch inside the same transaction, so the rows stay locked until
    their changes commit. Batches follow the primary key (``id > last``), so a batch never
    rescans rows the previous ones handled; rows locked by someone else wait for the next run.
    """
    last = 0
    while True:
        with transaction.atomic():
            batch = list(
                queryset.filter(pk__gt=last)
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("pk")
                .values_list("pk", "status")[: settings.TAMBO_SWEEP_BATCH]
            )
            if not batch:
                return
            last = batch[-1][0]
            yield batch


def _in(ids: list[int]) -> str:
    return ", ".join(["%s"] * len(ids))


def _audit(ids: list[int], action: str, data: dict[str, Any], now: dt.datetime) -> None:
    """One audit entry per expediente, written by one INSERT ... SELECT."""
    ops = connection.ops
    audit.append_select(
        f"SELECT %s, NULL, 'system', %s, 'filing', f.number, a.code, {audit.json_param()} "  # noqa: S608 - table names from models, placeholders only; values are parameters  # nosec B608
        f"FROM {Filing._meta.db_table} f JOIN {Agency._meta.db_table} a ON a.id = f.agency_id "
        f"WHERE f.id IN ({_in(ids)}) ORDER BY f.id",
        [ops.adapt_datetimefield_value(now), action, json.dumps(data, sort_keys=True), *ids],
    )


def _notices(
    ids: list[int], kind: str, text: Callable[[], tuple[str, str]], now: dt.datetime
) -> None:
    """Deposit one notice per expediente (once: the key makes a repeat a no-op).

    ``text()`` gives the title and body in the active language; it is called once per
    language the batch's citizens read, and each citizen gets the notice in theirs.
    """
    ops = connection.ops
    table = Notice._meta.db_table
    agencies = Agency.objects.filter(filings__pk__in=ids).distinct()
    saved = User.objects.filter(filings__pk__in=ids).values_list("language", flat=True).distinct()
    by_language: dict[str, list[str]] = {}
    for code in saved:
        by_language.setdefault(normalize(code), []).append(code)
    with connection.cursor() as cursor:
        for language, codes in by_language.items():
            with translation.override(language):
                title, body = text()
            for agency in agencies:
                cursor.execute(
                    f"INSERT INTO {table} (citizen_id, filing_id, agency_id, kind, title, body, "  # noqa: S608 - table names from models, placeholders only; values are parameters  # nosec B608
                    "document_code, deposited_at, effective_on, read_at, emailed_at, once_key) "
                    "SELECT f.citizen_id, f.id, f.agency_id, %s, f.number || %s, %s, '', %s, %s, "
                    f"NULL, NULL, CAST(f.id AS TEXT) || %s FROM {Filing._meta.db_table} f "
                    f"JOIN {User._meta.db_table} u ON u.id = f.citizen_id "
                    f"WHERE f.agency_id = %s AND u.language IN ({_in(codes)}) "
                    f"AND f.id IN ({_in(ids)}) ON CONFLICT DO NOTHING",
                    [
                        kind,
                        f": {title}"[:180],
                        body,
                        ops.adapt_datetimefield_value(now),
                        ops.adapt_datefield_value(effective_date(agency, now)),
                        f":{kind}",
                        agency.pk,
                        *codes,
                        *ids,
                    ],
                )
    # The batch's e-mail and SMS copies: one task, queued in the batch's own transaction
    # (the database task backend), so it exists exactly when the notices do — a crash
    # before the commit leaves neither, after it the worker sends them (in batches,
    # each copy at most once: tambo.inbox.actions.send_copies_batch). The sweep itself
    # never waits on a mail server.
    from tambo.inbox.tasks import send_notice_copies_task

    send_notice_copies_task.enqueue(kind, ids)


def _triggered(
    report: SweepReport, trigger: str, base: Q, today: dt.date, now: dt.datetime
) -> None:
    for scope, workflow in _workflows():
        for transition in workflow.triggered(trigger):
            target = workflow.state(transition.to)
            queryset = Filing.objects.filter(
                scope, base, is_open=True, status__in=transition.from_states
            )
            changes: dict[str, Any] = {
                "status": target.id,
                "handled_by": target.handled_by or "",
                "is_open": not target.final,
                "lock_version": F("lock_version") + 1,
                "updated_at": now,
            }
            if "stop_term" in transition.effects or target.decision:
                changes.update(term_running=False, correction_due_on=None)
            if target.decision:
                changes["decided_at"] = now
            if "produce_document" in transition.effects:
                changes["pending_document"] = target.document or "resolution"
            for batch in _batches(queryset):
                ids = [pk for pk, _status in batch]
                by_status: dict[str, list[int]] = {}
                for pk, status in batch:
                    by_status.setdefault(status, []).append(pk)
                for status, group in by_status.items():
                    _audit(
                        group,
                        "filing.transition",
                        {
                            "transition": transition.id,
                            "from": status,
                            "to": target.id,
                            "role": "system",
                            "trigger": trigger,
                            "on": today.isoformat(),
                        },
                        now,
                    )
                if "notify" in transition.effects:
                    _notices(
                        ids,
                        transition.id,
                        lambda target=target, transition=transition: (
                            localize(target.label),
                            localize(transition.notice) if transition.notice else "",
                        ),
                        now,
                    )
                Filing.objects.filter(pk__in=ids).update(**changes)
                report.add(transition.id, len(ids))
                if "produce_document" in transition.effects:
                    transaction.on_commit(_enqueue_documents)


NEGATIVE_SILENCE_TITLE = gettext_lazy("Plazo vencido: silencio administrativo negativo")
NEGATIVE_SILENCE_NOTICE = gettext_lazy(
    "El plazo para resolver venció sin una decisión notificada. Puede considerar denegada su "
    "solicitud y presentar un recurso (silencio administrativo negativo, art. 199.3), o esperar la "
    "decisión: la entidad mantiene la obligación de resolver."
)


def _negative_silence(report: SweepReport, today: dt.date, now: dt.datetime) -> None:
    queryset = Filing.objects.filter(
        is_open=True,
        term_running=True,
        silence_on__lte=today,
        negative_silence_noticed_at__isnull=True,
        procedure_version__approval="negative_silence",
    )
    for batch in _batches(queryset):
        ids = [pk for pk, _status in batch]
        _notices(
            ids,
            "negative_silence",
            lambda: (str(NEGATIVE_SILENCE_TITLE), str(NEGATIVE_SILENCE_NOTICE)),
            now,
        )
        _audit(ids, "filing.negative_silence", {"on": today.isoformat()}, now)
        Filing.objects.filter(pk__in=ids).update(negative_silence_noticed_at=now)
        report.add("negative_silence", len(ids))


def _warnings(report: SweepReport, kind: str, condition: Q, stamp: str, now: dt.datetime) -> None:
    queryset = Filing.objects.filter(
        condition, is_open=True, term_running=True, **{f"{stamp}__isnull": True}
    )
    alerts = OfficialAlert._meta.db_table
    for batch in _batches(queryset):
        ids = [pk for pk, _status in batch]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {alerts} (unit_id, filing_id, kind, created_at, seen_at) "  # noqa: S608 - table names from models, placeholders only; values are parameters  # nosec B608
                f"SELECT f.unit_id, f.id, %s, %s, NULL FROM {Filing._meta.db_table} f "
                f"WHERE f.id IN ({_in(ids)}) ON CONFLICT DO NOTHING",
                [kind, connection.ops.adapt_datetimefield_value(now), *ids],
            )
        _audit(ids, f"filing.{kind}", {}, now)
        Filing.objects.filter(pk__in=ids).update(**{stamp: now})
        report.add(kind, len(ids))


def run(today: dt.date | None = None) -> SweepReport:
    """Run every step once for ``today`` (Lima time by default)."""
    now = clock.now()
    today = today or now.astimezone(clock.LIMA).date()
    report = SweepReport()
    _triggered(report, "correction_expired", Q(correction_due_on__lt=today), today, now)
    _triggered(
        report,
        "automatic_approval",
        Q(term_running=True, silence_on__lte=today, procedure_version__approval="automatic"),
        today,
        now,
    )
    _triggered(
        report,
        "positive_silence",
        Q(term_running=True, silence_on__lte=today, procedure_version__approval="positive_silence"),
        today,
        now,
    )
    _negative_silence(report, today, now)
    _warnings(report, "overdue", Q(due_on__lt=today), "warned_overdue_at", now)
    # A case already overdue is not also warned as due soon.
    _warnings(
        report, "due_soon", Q(due_soon_on__lte=today, due_on__gte=today), "warned_due_soon_at", now
    )
    from .evidence import requeue_lost

    requeued = requeue_lost()
    if requeued:
        report.add("evidence_requeued", requeued)
    return report


def _enqueue_documents() -> None:
    from .tasks import issue_pending_documents_task

    try:
        issue_pending_documents_task.enqueue()
    except Exception:  # the sweep's changes are committed; `tambo sweep` issues documents too
        log.exception("could not enqueue the signing of pending documents")


def issue_pending_documents(limit: int = 500) -> int:
    """Sign the documents the sweep decided (one transaction per expediente), and the
    constancias of obtained documents still due."""
    from tambo.inbox.models import Notice as NoticeModel

    from .evidence_certificate import issue_due_certificates
    from .transitions import TransitionInput, produce_document

    issued = 0
    for filing_id in list(
        Filing.objects.exclude(pending_document="").values_list("pk", flat=True)[:limit]
    ):
        with transaction.atomic():
            filing = (
                Filing.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("agency", "procedure_version__procedure", "citizen")
                .filter(pk=filing_id)
                .exclude(pending_document="")
                .first()
            )
            if filing is None:
                continue
            workflow = filing.procedure_version.workflow
            transition = next(
                (t for t in workflow.transitions if t.to == filing.status and t.trigger), None
            )
            if transition is None:
                Filing.objects.filter(pk=filing.pk).update(pending_document="")
                continue
            with in_language_of(filing.citizen):
                code = produce_document(
                    filing, filing.pending_document, transition, TransitionInput(), None
                )
            Filing.objects.filter(pk=filing.pk).update(pending_document="")
            NoticeModel.objects.filter(once_key=f"{filing.pk}:{transition.id}").update(
                document_code=code
            )
            issued += 1
    return issued + issue_due_certificates()
