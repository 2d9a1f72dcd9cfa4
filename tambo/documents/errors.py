"""Errors of the signed-documents app (domain errors: the API answers them as JSON 503)."""

from __future__ import annotations

from tambo.core.errors import DomainError


class DocumentFailed(DomainError):
    """A document could not be rendered, signed or stored; nothing was issued."""

    status = 503
    code = "document_failed"


class SigningUnavailable(DocumentFailed):
    """The agency's signing key is missing or cannot be opened (wrong password, damaged file)."""

    code = "signing_unavailable"
