"""The JSON API under /api/v1/: one NinjaAPI, routers from each app, errors with stable codes.

Every error body is ``{"error": {"code", "message", "field", "fields"}}``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer, SessionAuth

from tambo.core.errors import DomainError, Forbidden, ValidationFailed
from tambo.core.health import unavailable
from tambo.core.ratelimit import RateLimited
from tambo.identity.tokens import user_for_token

log = logging.getLogger(__name__)


class BearerToken(HttpBearer):
    """Personal API tokens: ``Authorization: Bearer tmb_...``."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_token(token)
        if user is None:
            return None
        request.user = user
        return user


class Session(SessionAuth):
    """The browser's session cookie, with Django's CSRF check when (and only when) it is sent.

    Without a session cookie there is nobody to protect from CSRF, so the request is simply
    unauthenticated (401 ``not_authenticated``) rather than a CSRF failure; with one, a missing
    or wrong CSRF token answers 403 ``csrf_failed``.
    """

    def _get_key(self, request: HttpRequest) -> str | None:
        if self.param_name not in request.COOKIES:
            return None
        try:
            return super()._get_key(request)
        except HttpError:
            raise Forbidden(
                "CSRF check failed: send the X-CSRFToken header with the csrftoken cookie.",
                code="csrf_failed",
            ) from None


ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field", "fields"],
            "properties": {
                "code": {"type": "string", "description": "stable, for programs"},
                "message": {"type": "string", "description": "for people"},
                "field": {"type": ["string", "null"]},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}
# Every operation may answer these, always with the error body above.
ERROR_RESPONSES = {
    "400": "Bad request (a stable `code` says why, e.g. invalid_cursor, bad_idempotency_key)",
    "403": "forbidden: the policy does not let you do this",
    "404": "not_found: no such object, or one you may not see (its existence is not revealed)",
    "409": "conflict: the object's state does not allow it (transition_not_allowed, stale_version, ...)",
    "422": "validation_error / invalid_request: fields are wrong (see `fields`)",
    "503": "unavailable: a dependency is down; retry later",
}


class TamboAPI(NinjaAPI):
    """The NinjaAPI whose OpenAPI declares every error answer with the one error body."""

    def get_openapi_schema(self, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(**kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                # Ninja keys responses by int and merges openapi_extra's by str: one key each.
                responses = {}
                for status, response in operation.get("responses", {}).items():
                    responses.setdefault(str(status), {}).update(response)
                operation["responses"] = responses
                declared = dict(ERROR_RESPONSES)
                if operation.get("security"):
                    declared["401"] = "not_authenticated: log in or send a valid token"
                for status, description in declared.items():
                    responses.setdefault(status, {"description": description, "content": error})
        return schema


api = TamboAPI(
    title="Tambo API",
    version="1.0.0",
    description="Trámites del Estado en línea: catálogo, borradores, presentación y seguimiento.",
    urls_namespace="api-1.0.0",
    auth=[BearerToken(), Session()],
)


def error_body(
    code: str, message: str, field: str | None = None, fields: dict[str, str] | None = None
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, "fields": fields or {}}}


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    fields = (
        exc.errors
        if isinstance(exc, ValidationFailed)
        else ({exc.field: exc.message} if exc.field else {})
    )
    response = api.create_response(
        request, error_body(exc.code, exc.message, exc.field, fields), status=exc.status
    )
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


def _loc_field(loc: list[Any]) -> str:
    parts = [
        str(p)
        for p in loc
        if p not in {"body", "query", "path", "header", "payload", "form", "file"}
    ]
    return ".".join(parts)


@api.exception_handler(NinjaValidationError)
def request_invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields = {(_loc_field(e.get("loc", [])) or "body"): e.get("msg", "invalid") for e in exc.errors}
    first = next(iter(fields), None)
    return api.create_response(
        request,
        error_body("invalid_request", "The request does not match the schema.", first, fields),
        status=422,
    )


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(
        request, error_body("not_authenticated", "Log in or send a valid token."), status=401
    )


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, error_body("not_found", "Not found."), status=404)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return api.create_response(
        request, error_body(f"http_{exc.status_code}", str(exc)), status=exc.status_code
    )


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The database is down or did not answer in time: 503 ``service_unavailable``, retry later."""
    log.warning("database unavailable: %s: %s", exc.__class__.__name__, str(exc)[:200])
    return unavailable(request)


@api.exception_handler(MultiPartParserError)
def malformed_body(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A multipart body that cannot be parsed (no boundary, truncated) is the client's error."""
    return api.create_response(
        request,
        error_body("invalid_request", "The request body could not be parsed.", "body"),
        status=400,
    )


@api.exception_handler(Exception)
def unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Last resort: log the failure and answer JSON (the transaction was already rolled back)."""
    log.exception("unhandled error in %s %s", request.method, request.path)
    return api.create_response(
        request,
        error_body("internal_error", "Something went wrong on our side; nothing was saved."),
        status=500,
    )


def _register_routers() -> None:
    from tambo.cases.api import router as cases_router
    from tambo.cases.assisted_api import router as assisted_router
    from tambo.cases.office_api import router as office_router
    from tambo.cases.open_data import router as open_data_router
    from tambo.catalog.api import router as catalog_router
    from tambo.core.api import build_router as audit_router
    from tambo.documents.api import router as documents_router
    from tambo.identity import policy
    from tambo.identity.api import router as identity_router
    from tambo.inbox.api import router as inbox_router
    from tambo.privacy.api import router as privacy_router

    api.add_router("/", catalog_router)
    api.add_router("/", cases_router)
    api.add_router("/", assisted_router)
    api.add_router("/", documents_router)
    api.add_router("/", office_router)
    api.add_router("/", inbox_router)
    api.add_router("/", audit_router(policy.require))
    api.add_router("/", privacy_router)
    api.add_router("/", identity_router)
    api.add_router("/", open_data_router)


_register_routers()
