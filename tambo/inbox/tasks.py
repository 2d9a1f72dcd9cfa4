"""Background tasks of the casilla (Django Tasks API, run by ``tambo db_worker``)."""

from __future__ import annotations

from django_tasks import task


@task()
def send_sms_task(sms_id: int) -> str:
    """One more attempt at an SMS whose gateway failed (the outbox schedules it)."""
    from .outbox import deliver

    return deliver(sms_id)


@task()
def send_notice_copies_task(kind: str, filing_ids: list[int]) -> dict[str, int]:
    """Send the e-mail/SMS copies of the notices of ``kind`` the sweep deposited for a batch
    of expedientes (their ``once_key`` is ``<filing id>:<kind>``)."""
    from dataclasses import asdict

    from .actions import send_copies_batch
    from .models import Notice

    keys = [f"{pk}:{kind}" for pk in filing_ids]
    ids = list(Notice.objects.filter(once_key__in=keys).values_list("pk", flat=True))
    return asdict(send_copies_batch(ids))
