"""Deposit notices in the casilla, mark them read, and e-mail a copy after commit."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils.translation import gettext as _

from tambo.catalog.queries import agency_calendar
from tambo.core import audit, clock
from tambo.core.errors import NotFound
from tambo.identity import policy
from tambo.identity.language import in_language_of

from .models import Notice
from .outbox import queue_sms

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
    email_copy(notice_id)
    sms_copy(notice_id)


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


def sms_copy(notice_id: int) -> None:
    """Send the SMS alert for a notice, in the citizen's language; at most once per notice.

    Through the outbox (``outbox.queue_sms``): a gateway failure is retried by the task
    worker, ``texted_at`` is set when it is sent; the casilla holds the notice either way.
    """
    notice = Notice.objects.select_related("citizen", "filing").filter(pk=notice_id).first()
    if notice is None or notice.texted_at or not wants_sms(notice.citizen):
        return
    with in_language_of(notice.citizen):
        text = sms_text(notice.filing.number, notice_link(notice))
    queue_sms(notice.citizen.phone, text, once_key=f"notice:{notice.pk}", purpose="notice")


def email_copy(notice_id: int) -> None:
    """Send the e-mail alert for a notice (never the notice's legal effect itself)."""
    notice = Notice.objects.select_related("citizen", "filing").filter(pk=notice_id).first()
    if notice is None or not notice.citizen.email or notice.emailed_at:
        return
    link = notice_link(notice)
    try:
        with in_language_of(notice.citizen):
            send_mail(
                subject=f"[{settings.TAMBO_SITE_NAME}] {notice.title}",
                message=_(
                    "Tiene una nueva notificación sobre el expediente %(number)s.\n"
                    "Léala en su casilla electrónica: %(link)s\n"
                )
                % {"number": notice.filing.number, "link": link},
                from_email=settings.DEFAULT_FROM_EMAIL,
                recipient_list=[notice.citizen.email],
            )
    except OSError:
        log.warning("e-mail copy of notice %s not sent; the notice is in the casilla", notice.pk)
        return
    Notice.objects.filter(pk=notice.pk).update(emailed_at=clock.now())


def mark_read(user: Any, notice_id: int) -> Notice:
    with transaction.atomic():
        notice = (
            Notice.objects.select_for_update()
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
