"""Reads that may come from a PostgreSQL read replica (``DATABASE_REPLICA_URL``).

Only reads that tolerate a replica's lag of a second or so go there: the back office's work
queues and their counts (an expediente filed a moment ago shows on the next refresh). Anything
that decides access (tokens, sessions, appointments), anything read to be changed, and
everything a citizen reads right after writing stays on the primary. Without a replica the
alias is the primary's, so the code is the same on one machine and on many.
"""

from __future__ import annotations

from django.conf import settings

REPLICA = "replica"


def dashboard_alias() -> str:
    """The database alias for lag-tolerant dashboard and queue reads."""
    return REPLICA if REPLICA in settings.DATABASES else "default"


class PrimaryReplicaRouter:
    """Migrations run on the primary only; rows read from the replica relate to the primary's."""

    def db_for_read(self, model, **hints):
        return None  # the primary, unless a query asks for the replica with .using()

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
