"""Public verification endpoints: ``GET /verify/{code}`` and ``POST /verify`` (a PDF file).

No authentication. The answers carry only public data (agency, type, date, public fields).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Router, Schema
from ninja.files import UploadedFile

from tambo.core import ratelimit
from tambo.core.errors import NotFound, ValidationFailed
from tambo.core.upload_names import sent_path, traversal_message
from tambo.identity import policy

from .public import public_document
from .verify import by_code, check_pdf

router = Router(tags=["verificación"])


class AgencyOut(Schema):
    code: str
    name: str


class PublicDocumentOut(Schema):
    code: str
    kind: str
    kind_label: str
    agency: AgencyOut
    issued_at: dt.datetime
    public_fields: dict[str, Any]
    verification_url: str


class VerificationOut(Schema):
    status: str
    message: str
    document: PublicDocumentOut | None


@router.get("/verify/{code}", response=PublicDocumentOut, auth=None)
def verify_code(request: HttpRequest, code: str) -> Any:
    """The public data of the registered document with this verification code."""
    ratelimit.check(request, "verify")
    policy.require(request.user, "document.verify")
    found = by_code(code)
    if found is None:
        raise NotFound(_("No encontramos un documento con ese código."))
    return public_document(found).as_json()


@router.post("/verify", response=VerificationOut, auth=None)
def verify_file(request: HttpRequest, file: File[UploadedFile]) -> Any:
    """Check a PDF: ``status`` is authentic, altered, not_signed, foreign_signature, unknown or not_pdf."""
    ratelimit.check(request, "verify")
    policy.require(request.user, "document.verify")
    if sent_path(file) is not None:
        raise ValidationFailed({"file": traversal_message()})
    limit = settings.TAMBO_MAX_FILE_BYTES
    if file.size is not None and file.size > limit:
        raise ValidationFailed(
            {
                "file": _("El archivo supera el máximo de %(mb)s MB.")
                % {"mb": limit // (1024 * 1024)}
            }
        )
    data = file.read(limit + 1)
    if len(data) > limit:
        raise ValidationFailed(
            {
                "file": _("El archivo supera el máximo de %(mb)s MB.")
                % {"mb": limit // (1024 * 1024)}
            }
        )
    return check_pdf(data).as_json()
