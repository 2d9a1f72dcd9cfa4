"""Domain errors with stable codes: the API turns them into JSON, views into messages."""

from __future__ import annotations

from django.utils.translation import gettext as _


class DomainError(Exception):
    """A request that cannot be done as asked; ``code`` is stable for API clients."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


class ValidationFailed(DomainError):
    """Some fields are wrong; ``errors`` maps each field to its message."""

    status = 422
    code = "validation_error"

    def __init__(self, errors: dict[str, str], message: str | None = None):
        super().__init__(
            message or _("Revise los datos indicados."), field=next(iter(errors), None)
        )
        self.errors = errors


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Unavailable(DomainError):
    """A dependency is down; the client may retry."""

    status = 503
    code = "unavailable"
