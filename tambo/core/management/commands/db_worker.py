"""``tambo db_worker``: django-tasks-db's worker, with task leases (tambo.core.tasklease).

Same options as the original; beside the tasks, a lease keeper renews the lease of the task
this worker runs and puts back to READY the tasks of workers that died mid-run.
"""

from typing import Any

from django_tasks_db.management.commands.db_worker import Command as WorkerCommand

from tambo.core.tasklease import LeaseKeeper


class Command(WorkerCommand):
    help = "Run a database background worker (with task leases: dead workers' tasks run again)"

    def handle(self, *args: Any, **options: Any) -> None:
        keeper = LeaseKeeper(options["worker_id"])
        # A worker (re)starting takes back at once what dead workers left RUNNING.
        keeper.tick()
        keeper.start()
        try:
            super().handle(*args, **options)
        finally:
            keeper.stop()
