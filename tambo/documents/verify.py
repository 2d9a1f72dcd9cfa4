"""Checking documents: by verification code, or a PDF file's signature against the register.

``check_pdf`` validates the first PAdES signature with pyHanko, offline (no fetching of
certificates, CRLs or OCSP), with the certificates in ``ca.pem`` of the keys directory as
the only trust roots, and gives one stable status:

``authentic``          signature intact over the whole file, by our certificate (chain to
                       the trust root, or the very certificate registered for the document),
                       and the file's SHA-256 is in the register;
``altered``            a signature exists but the file changed after signing (signature not
                       intact, or not covering the whole file, e.g. later incremental
                       updates), or the file is not the registered one although it carries a
                       registered verification code;
``not_signed``         a PDF without a signature;
``foreign_signature``  a signature by a certificate we did not issue, not in the register;
``unknown``            signed by us, but not in the register;
``not_pdf``            not a readable PDF.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from . import keys
from .actions import REASON_CODE_PREFIX
from .models import IssuedDocument
from .public import CODE_ALPHABET, CODE_LENGTH, PublicDocument, normalize_code, public_document

log = logging.getLogger(__name__)

AUTHENTIC = "authentic"
ALTERED = "altered"
NOT_SIGNED = "not_signed"
FOREIGN_SIGNATURE = "foreign_signature"
UNKNOWN = "unknown"
NOT_PDF = "not_pdf"
STATUSES = (AUTHENTIC, ALTERED, NOT_SIGNED, FOREIGN_SIGNATURE, UNKNOWN, NOT_PDF)

_REASON_CODE_RE = re.compile(
    rf"{re.escape(REASON_CODE_PREFIX)}\s+([{CODE_ALPHABET}]{{{CODE_LENGTH}}})", re.IGNORECASE
)


def messages() -> dict[str, str]:
    """The message shown for each status (Spanish source text, translated when active)."""
    return {
        AUTHENTIC: _(
            "Documento auténtico: la firma digital es válida, el archivo no fue modificado "
            "y coincide con el documento registrado."
        ),
        ALTERED: _(
            "Documento alterado: el archivo fue modificado después de ser firmado. "
            "No lo tome como válido."
        ),
        NOT_SIGNED: _(
            "El PDF no tiene firma digital: no podemos confirmar quién lo emitió. "
            "Si tiene un código de verificación, consúltelo."
        ),
        FOREIGN_SIGNATURE: _(
            "El PDF tiene una firma digital, pero no de una entidad de esta plataforma, "
            "y no figura en nuestro registro."
        ),
        UNKNOWN: _(
            "El PDF está firmado por una entidad de esta plataforma, pero no figura en "
            "nuestro registro de documentos emitidos."
        ),
        NOT_PDF: _("El archivo no es un PDF que podamos leer."),
    }


@dataclass(frozen=True)
class VerificationResult:
    status: str
    message: str
    document: IssuedDocument | None = None

    @property
    def public(self) -> PublicDocument | None:
        return public_document(self.document) if self.document is not None else None

    def as_json(self) -> dict[str, Any]:
        public = self.public
        return {
            "status": self.status,
            "message": self.message,
            "document": public.as_json() if public is not None else None,
        }


def by_code(code: str | None) -> IssuedDocument | None:
    """The registered document with this verification code (dashes, spaces, case ignored)."""
    normalized = normalize_code(code)
    if normalized is None:
        return None
    return IssuedDocument.objects.select_related("agency").filter(code=normalized).first()


def _result(status: str, document: IssuedDocument | None = None) -> VerificationResult:
    return VerificationResult(status, messages()[status], document)


def _embedded_code(signature: Any) -> str | None:
    try:
        reason = str(signature.sig_object.get("/Reason", ""))
    except Exception:
        return None
    match = _REASON_CODE_RE.search(reason)
    return match.group(1).upper() if match else None


def _validate(signature: Any) -> Any:
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    context = ValidationContext(trust_roots=keys.trust_roots(), allow_fetching=False)
    # The difference analysis of later revisions is skipped: any change after signing
    # (coverage short of the whole file) already makes the document "altered" here.
    return validate_pdf_signature(signature, signer_validation_context=context, skip_diff=True)


def check_pdf(data: bytes) -> VerificationResult:
    """Validate a PDF's signature and look it up in the register (offline)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import SignatureCoverageLevel

    if b"%PDF-" not in data[:1024]:
        return _result(NOT_PDF)
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = list(reader.embedded_regular_signatures)
    except Exception as exc:
        log.info("uploaded file is not a readable PDF: %s", exc)
        return _result(NOT_PDF)
    if not signatures:
        return _result(NOT_SIGNED)

    registered = (
        IssuedDocument.objects.select_related("agency")
        .filter(sha256=hashlib.sha256(data).hexdigest())
        .first()
    )
    signature = signatures[0]
    code = _embedded_code(signature)
    claimed = by_code(code) if registered is None and code else None
    try:
        status = _validate(signature)
    except Exception as exc:
        # The signature cannot even be evaluated (damaged, or a kind we do not support).
        log.info("signature could not be validated: %s", exc)
        if registered is not None or claimed is not None:
            return _result(ALTERED, registered or claimed)
        return _result(FOREIGN_SIGNATURE)
    if (
        not (status.intact and status.valid)
        or status.coverage != SignatureCoverageLevel.ENTIRE_FILE
    ):
        return _result(ALTERED, registered or claimed)

    signer_sha256 = keys.certificate_sha256(signature.signer_cert)
    if registered is not None:
        if status.trusted or signer_sha256 == registered.signer_certificate_sha256:
            return _result(AUTHENTIC, registered)
        return _result(FOREIGN_SIGNATURE)
    if claimed is not None:
        return _result(ALTERED, claimed)
    ours = (
        status.trusted
        or IssuedDocument.objects.filter(signer_certificate_sha256=signer_sha256).exists()
    )
    return _result(UNKNOWN if ours else FOREIGN_SIGNATURE)
