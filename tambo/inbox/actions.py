"""Deposit notices in the casilla, mark them read, and e-mail a copy after commit."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from tambo.catalog.queries import agency_calendar
from tambo.core import audit, clock
from tambo.core.errors import NotFound
from tambo.identity import policy
from tambo.identity.language import in_language_of

from .models import Notice, OutgoingSms
from .outbox import deliver

log = logging.getLogger(__name__)


def effective_date(agency: Any, deposited: dt.datetime) -> dt.date:
    """The day a deposited notice takes effect under the agency's rule.

    By default the day it is deposited (art. 20.4 / 25: the day it is recorded as received);
    an agency may set a number of business days after which an unread notice counts as
    received (``notice_ack_days``).
    """
    day = deposited.astimezone(clock.LIMA).date()
    if agency.notice_ack_days:
        return agency_calendar(agency).add_business_days(day, agency.notice_ack_days)
    return day


def deposit(
    filing: Any,
    *,
    kind: str,
    title: str,
    body: str,
    document_code: str = "",
    actor: Any = None,
    once_key: str | None = None,
) -> Notice:
    """Deposit a notice in the citizen's casilla (inside the caller's transaction)."""
    now = clock.now()
    notice = Notice.objects.create(
        citizen=filing.citizen,
        filing=filing,
        agency=filing.agency,
        kind=kind,
        title=title[:200],
        body=body,
        document_code=document_code,
        deposited_at=now,
        effective_on=effective_date(filing.agency, now),
        once_key=once_key,
    )
    audit.record(
        "notice.deposited",
        "notice",
        notice.pk,
        actor=actor,
        agency_code=filing.agency.code,
        data={
            "filing": filing.number,
            "kind": kind,
            "effective_on": notice.effective_on.isoformat(),
            "document": document_code,
        },
    )
    transaction.on_commit(lambda: send_copies(notice.pk))
    return notice


def send_copies(notice_id: int) -> None:
    """After commit: the e-mail copy, and the SMS alert for citizens without e-mail (or who asked)."""
    send_copies_batch([notice_id])


def notice_link(notice: Notice) -> str:
    return settings.TAMBO_PUBLIC_URL.rstrip("/") + f"/casilla/{notice.pk}/"


def sms_text(number: str, link: str) -> str:
    """The whole SMS: the filing number and a link, nothing personal (names, DNI, answers)."""
    return _("%(site)s: nueva notificación del expediente %(number)s. Léala en %(link)s") % {
        "site": settings.TAMBO_SITE_NAME,
        "number": number,
        "link": link,
    }


def wants_sms(citizen: Any) -> bool:
    return bool(citizen.phone) and (not citizen.email or citizen.sms_notices)


# Copies claimed, sent and recorded per chunk: a crash between claiming and sending loses at
# most one chunk's alerts (the notices themselves are in the casilla), never sends one twice.
COPY_CHUNK = 200


@dataclass
class CopiesReport:
    emailed: int = 0
    texted: int = 0
    failed: int = 0


def send_copies_batch(notice_ids: list[int]) -> CopiesReport:
    """The e-mail and SMS copies of many notices (the sweep's batches; one notice too).

    Per chunk: one query claims the e-mail copies still unsent (``emailed_at`` set under
    ``SELECT ... FOR UPDATE SKIP LOCKED``, with the citizen's address and language joined in)
    and commits; every e-mail goes through one mail connection; the ones that failed are
    released (flag back to NULL) by one UPDATE, so a later run may send them. At most once: a
    copy whose flag is set is never sent again, by this run, a concurrent one or a retried
    task. SMS alerts go into the SMS outbox (one row per notice, ``notice:<id>``), which sends
    them, retries a gateway failure with backoff and sets ``texted_at`` once sent.
    """
    report = CopiesReport()
    ids = sorted(set(notice_ids))
    for start in range(0, len(ids), COPY_CHUNK):
        chunk = ids[start : start + COPY_CHUNK]
        emails = _claim(chunk, "emailed_at", Q(citizen__email__gt=""))
        sent, failed = _send_emails(emails)
        report.emailed += sent
        report.failed += len(failed)
        _release("emailed_at", failed)
        sent, failed = _queue_texts(chunk)
        report.texted += sent
        report.failed += failed
    return report


def _claim(ids: list[int], flag: str, wanted: Q) -> list[Notice]:
    with transaction.atomic():
        notices = list(
            Notice.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(wanted, pk__in=ids, **{f"{flag}__isnull": True})
            .select_related("citizen", "filing")
            .only(
                "pk",
                "title",
                "citizen__email",
                "citizen__phone",
                "citizen__language",
                "filing__number",
            )
            .order_by("pk")
        )
        if notices:
            Notice.objects.filter(pk__in=[n.pk for n in notices]).update(**{flag: clock.now()})
    return notices


def _release(flag: str, ids: list[int]) -> None:
    if ids:
        Notice.objects.filter(pk__in=ids).update(**{flag: None})


def _send_emails(notices: list[Notice]) -> tuple[int, list[int]]:
    """Send the e-mail alerts over one connection; returns (sent, ids that failed)."""
    if not notices:
        return 0, []
    messages = []
    for notice in notices:
        with in_language_of(notice.citizen):
            body = _(
                "Tiene una nueva notificación sobre el expediente %(number)s.\n"
                "Léala en su casilla electrónica: %(link)s\n"
            ) % {"number": notice.filing.number, "link": notice_link(notice)}
        messages.append(
            EmailMessage(
                subject=f"[{settings.TAMBO_SITE_NAME}] {notice.title}",
                body=body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[notice.citizen.email],
            )
        )
    sent, failed = 0, []
    connection = get_connection()
    try:
        connection.open()
        for notice, message in zip(notices, messages, strict=True):
            try:
                sent += connection.send_messages([message]) or 0
            except OSError:  # smtplib errors are OSErrors: this copy is released for a retry
                failed.append(notice.pk)
    except OSError:  # the mail server could not be reached at all
        failed = [n.pk for n in notices]
        sent = 0
    finally:
        with contextlib.suppress(OSError):
            connection.close()
    if failed:
        log.warning("%s e-mail copies not sent; the notices are in the casilla", len(failed))
    return sent, failed


def _queue_texts(ids: list[int]) -> tuple[int, int]:
    """Queue the SMS alerts of these notices in the outbox (once per notice) and make each
    new row's first attempt; returns (sent, failed or waiting for a retry)."""
    wanted = Q(citizen__phone__gt="") & (Q(citizen__email="") | Q(citizen__sms_notices=True))
    notices = (
        Notice.objects.filter(wanted, pk__in=ids, texted_at__isnull=True)
        .select_related("citizen", "filing")
        .only("pk", "citizen__phone", "citizen__language", "filing__number")
        .order_by("pk")
    )
    now = clock.now()
    rows = []
    for notice in notices:
        with in_language_of(notice.citizen):
            text = sms_text(notice.filing.number, notice_link(notice))
        rows.append(
            OutgoingSms(
                once_key=f"notice:{notice.pk}",
                purpose="notice",
                to=notice.citizen.phone,
                text=text,
                created_at=now,
            )
        )
    if not rows:
        return 0, 0
    OutgoingSms.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    fresh = OutgoingSms.objects.filter(
        once_key__in=[r.once_key for r in rows], status=OutgoingSms.Status.PENDING, attempts=0
    ).values_list("pk", flat=True)
    sent = failed = 0
    for sms_id in fresh:  # rows queued by an earlier run are the retry task's
        if deliver(sms_id) == OutgoingSms.Status.SENT:
            sent += 1
        else:
            failed += 1
    return sent, failed


def mark_read(user: Any, notice_id: int) -> Notice:
    with transaction.atomic():
        notice = (
            Notice.objects.select_for_update(of=("self",))
            .select_related("filing", "agency")
            .filter(pk=notice_id)
            .first()
        )
        if notice is None:
            raise NotFound("No encontramos esa notificación.")
        policy.require(user, "notice.read", notice)
        if notice.read_at is None:
            notice.read_at = clock.now()
            notice.save(update_fields=["read_at"])
            audit.record(
                "notice.read",
                "notice",
                notice.pk,
                actor=user,
                agency_code=notice.agency.code,
                data={"filing": notice.filing.number},
            )
    return notice
