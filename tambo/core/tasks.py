"""Background task of the audit log: a signed checkpoint every ``TAMBO_CHECKPOINT_INTERVAL_MINUTES``.

``tambo audit checkpoint --schedule`` queues the first; each run queues the next, and signs
only if the tree grew (``tlog.make_checkpoint``).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django_tasks import task

from . import clock


@task()
def checkpoint_task() -> int | None:
    from . import audit, tlog

    audit.seal_pending(wait=True)
    made = tlog.make_checkpoint()
    schedule_next_checkpoint()
    return made.tree_size if made is not None else None


def schedule_next_checkpoint() -> None:
    """Queue the next checkpoint unless one is already waiting."""
    from django_tasks_db.models import DBTaskResult

    name = checkpoint_task.module_path
    if DBTaskResult.objects.filter(task_path=name, status="READY").exists():
        return
    interval = dt.timedelta(minutes=settings.TAMBO_CHECKPOINT_INTERVAL_MINUTES)
    checkpoint_task.using(run_after=clock.now() + interval).enqueue()
