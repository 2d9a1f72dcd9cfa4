"""SMS through an outbox: sent at once after commit, retried with backoff, never sent twice.

:func:`queue_sms` records the SMS (one row per ``once_key``) and, after the caller's
transaction commits, makes the first attempt straight away (a consent code is awaited at a
desk). A failure the sender marks ``retry=True`` (time-out, gateway down) re-queues it as a
background task (``send_sms_task``, Django Tasks' database backend) after
``TAMBO_SMS_RETRY_BASE_SECONDS * 2^(attempt-1)``, up to ``TAMBO_SMS_MAX_ATTEMPTS`` attempts; a
permanent failure, or the last attempt, marks it ``failed`` with its error and writes an
``sms.failed`` audit entry: the admin lists them and the intermediary's consent page says so.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F

from tambo.core import audit, clock

from .models import Notice, OutgoingSms
from .sms import SmsError, send_sms

log = logging.getLogger(__name__)
Status = OutgoingSms.Status
LONG_NUMBER = re.compile(r"\+?\d[\d ]{7,}\d")


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next attempt: base * 2^(attempts-1), capped at one hour."""
    seconds = settings.TAMBO_SMS_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return dt.timedelta(seconds=min(seconds, 3600))


def queue_sms(
    to: str,
    text: str,
    *,
    once_key: str,
    purpose: str,
    secret: bool = False,
    expires_at: dt.datetime | None = None,
) -> OutgoingSms:
    """Record an SMS (once per ``once_key``) and try it after the current transaction commits."""
    sms, created = OutgoingSms.objects.get_or_create(
        once_key=once_key[:120],
        defaults={
            "purpose": purpose,
            "to": to,
            "text": text,
            "secret": secret,
            "expires_at": expires_at,
            "created_at": clock.now(),
        },
    )
    if created:
        transaction.on_commit(lambda: deliver(sms.pk))
    return sms


def deliver(sms_id: int) -> str:
    """One attempt (the first one inline, the others as tasks); returns the row's status."""
    claimed = OutgoingSms.objects.filter(pk=sms_id, status=Status.PENDING).update(
        status=Status.SENDING, attempts=F("attempts") + 1
    )
    sms = OutgoingSms.objects.filter(pk=sms_id).first()
    if sms is None:
        return "missing"
    if not claimed:
        return sms.status  # sent, failed, or another worker has it
    now = clock.now()
    if sms.expires_at is not None and now >= sms.expires_at:
        _finish(sms, Status.EXPIRED, error="expired before it could be sent")
        return Status.EXPIRED
    try:
        send_sms(sms.to, sms.text)
    except SmsError as exc:
        return _failed(sms, exc)
    _finish(sms, Status.SENT)
    notice_id = sms.once_key.partition(":")[2]
    if sms.purpose == "notice" and notice_id.isdigit():
        Notice.objects.filter(pk=notice_id, texted_at__isnull=True).update(texted_at=sms.sent_at)
    return Status.SENT


def _finish(sms: OutgoingSms, status: str, *, error: str = "") -> None:
    sms.status = status
    sms.next_attempt_at = None
    sms.last_error = error[:300] or sms.last_error
    if status == Status.SENT:
        sms.sent_at = clock.now()
    if sms.secret:
        sms.text = ""
    sms.save(update_fields=["status", "next_attempt_at", "last_error", "sent_at", "text"])


def _redacted(error: SmsError) -> str:
    """The gateway's message without any phone number in it (it goes to the log and audit)."""
    return LONG_NUMBER.sub("•••", str(error))[:300]


def _failed(sms: OutgoingSms, exc: SmsError) -> str:
    exc = SmsError(_redacted(exc), retry=exc.retry)
    now = clock.now()
    when = now + backoff(sms.attempts)
    again = (
        exc.retry
        and sms.attempts < settings.TAMBO_SMS_MAX_ATTEMPTS
        and (sms.expires_at is None or when < sms.expires_at)
    )
    log.warning(
        "SMS %s not sent, attempt %s (%s): %s",
        sms.once_key,
        sms.attempts,
        "will retry" if again else "failed",
        exc,
    )
    if again:
        sms.status, sms.next_attempt_at, sms.last_error = Status.PENDING, when, str(exc)[:300]
        sms.save(update_fields=["status", "next_attempt_at", "last_error"])
        _enqueue(sms.pk, when)
        return Status.PENDING
    with transaction.atomic():
        _finish(sms, Status.FAILED, error=str(exc))
        audit.record(
            "sms.failed",
            "sms",
            sms.pk,
            data={
                "purpose": sms.purpose,
                "once_key": sms.once_key,
                "attempts": sms.attempts,
                "retryable": exc.retry,
                "error": str(exc)[:200],
            },
        )
    return Status.FAILED


def _enqueue(sms_id: int, run_after: dt.datetime) -> None:
    from .tasks import send_sms_task

    send_sms_task.using(run_after=run_after).enqueue(sms_id)


def status_of(once_key: str) -> Any:
    """The outbox row for ``once_key`` (to tell an intermediary whether the code went out)."""
    return OutgoingSms.objects.filter(once_key=once_key).first()


def undelivered_notice_alerts(filing: Any) -> list[dict[str, Any]]:
    """The SMS alerts of this expediente's notices that failed for good (for the case page).

    The notice itself is in the casilla either way; the officials learn that the citizen was
    not alerted by SMS and may reach them another way.
    """
    notices = {f"notice:{pk}": title for pk, title in filing.notices.values_list("pk", "title")}
    if not notices:
        return []
    failed = OutgoingSms.objects.filter(
        once_key__in=list(notices), status__in=[Status.FAILED, Status.EXPIRED]
    ).order_by("created_at")
    return [
        {"title": notices[sms.once_key], "at": sms.created_at, "error": sms.last_error}
        for sms in failed
    ]
