"""Tambo's own middleware: request context (id, access log, 503 on a database outage) and
the security headers Django's SecurityMiddleware does not set.

RequestContextMiddleware is the outermost middleware.

Every request gets an id: the client's (or the reverse proxy's) ``X-Request-ID`` when it is a
plausible id, a fresh one otherwise. It is echoed in the response header and put on every log
line the request produces (:mod:`tambo.core.logs`). One access line per request records the
method, the path (never the query string, which may carry secrets such as access codes), the
status, the duration and the user id when the request already knew it (the user is never
loaded just to be logged: that would query the database, maybe during an outage).

SecurityHeadersMiddleware: ``Permissions-Policy`` turns off browser features no page uses;
``Cross-Origin-Resource-Policy`` stops other sites from embedding our responses (documents
included) as their sub-resources.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

from .health import is_outage, unavailable
from .logs import request_id_var

access_log = logging.getLogger("tambo.access")
log = logging.getLogger(__name__)
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def _user_id(request: HttpRequest) -> int | None:
    user = getattr(request, "user", None)
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return None
    return user.pk if getattr(user, "is_authenticated", False) else None


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _VALID_ID.fullmatch(given) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        started = time.monotonic()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            response["X-Request-ID"] = request_id
            return response
        finally:
            access_log.info(
                "%s %s %s",
                request.method,
                request.path,
                status,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                    "user_id": _user_id(request),
                },
            )
            request_id_var.reset(token)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A view that met a database outage answers 503 (the transaction was rolled back)."""
        if is_outage(exception):
            log.warning(
                "database unavailable: %s: %s", exception.__class__.__name__, str(exception)[:200]
            )
            return unavailable(request)
        return None


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.permissions_policy = settings.TAMBO_PERMISSIONS_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.permissions_policy)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response
