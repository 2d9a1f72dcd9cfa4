"""Background task of the SMS outbox: one more attempt at an SMS whose gateway failed."""

from __future__ import annotations

from django_tasks import task


@task()
def send_sms_task(sms_id: int) -> str:
    from .outbox import deliver

    return deliver(sms_id)
