"""Health endpoints and the answer to a database outage.

- ``/health/live``: the process answers (no database): a supervisor restarts it if not.
- ``/health/ready``: the database answers ``SELECT 1`` and every migration is applied: a load
  balancer sends traffic only to ready nodes.

A request that meets a database outage (connection refused, dropped or timed out, a statement
cancelled by ``statement_timeout``) gets a clear 503 with ``Retry-After`` — JSON with the code
``service_unavailable`` under ``/api/`` and a plain page elsewhere — never a 500 and never a
hang: the connection and statement timeouts in settings bound the wait, and
``CONN_HEALTH_CHECKS`` replaces the broken persistent connection once the database is back, so
the service recovers by itself. These endpoints are public (``health.view`` in the policy) and
reveal nothing but whether the node can serve.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tambo.identity import policy

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5
# A node found fully migrated stays so until it is replaced by a newer release, so the answer
# is kept; a node with pending migrations looks again after this many seconds.
_PENDING_RECHECK_SECONDS = 10.0
_migrations_ok = False
_pending_checked_at = 0.0
_pending: list[str] = []


def is_outage(exc: BaseException | None) -> bool:
    """Whether ``exc`` means the database cannot be reached or did not answer in time."""
    return isinstance(exc, OperationalError | InterfaceError)


def unavailable(request: HttpRequest) -> HttpResponse:
    """The 503 for a request that met an outage: JSON under /api/, a page elsewhere."""
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {
                "error": {
                    "code": "service_unavailable",
                    "message": "The service is briefly unavailable; retry in a few seconds.",
                    "field": None,
                    "fields": {},
                }
            },
            status=503,
        )
    else:
        # No request context: the context processors would query the database that is down.
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def server_error(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """``handler500``: an outage raised anywhere (even in a middleware) still answers 503."""
    if is_outage(sys.exc_info()[1]):
        return unavailable(request)
    return HttpResponse(render_to_string("500.html"), status=500)


@never_cache
@require_GET
def live(request: HttpRequest) -> HttpResponse:
    policy.require(None, "health.view")
    return JsonResponse({"status": "ok"})


def _pending_migrations() -> list[str]:
    global _migrations_ok, _pending_checked_at, _pending
    if _migrations_ok:
        return []
    if time.monotonic() - _pending_checked_at < _PENDING_RECHECK_SECONDS:
        return _pending
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    _pending = [f"{m.app_label}.{m.name}" for m, _backwards in plan]
    _pending_checked_at = time.monotonic()
    _migrations_ok = not _pending
    return _pending


@never_cache
@require_GET
def ready(request: HttpRequest) -> HttpResponse:
    policy.require(None, "health.view")
    started = time.monotonic()
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        pending = _pending_migrations()
    except DatabaseError as exc:
        log.warning("not ready: database unavailable (%s)", exc.__class__.__name__)
        response = JsonResponse({"status": "unavailable", "database": "unavailable"}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if pending:
        return JsonResponse(
            {"status": "unavailable", "database": "ok", "pending_migrations": len(pending)},
            status=503,
        )
    elapsed_ms = round((time.monotonic() - started) * 1000, 1)
    return JsonResponse({"status": "ok", "database": "ok", "database_ms": elapsed_ms})
