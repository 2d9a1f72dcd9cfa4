"""Issuing signed documents: render a template to PDF, sign it (PAdES), store and register it.

``issue_pdf`` is a building block of other actions (filing a receipt, signing a
resolution): it runs inside the caller's transaction, and the caller's action has already
asked the permission policy. The document is issued whole or not at all: a failure after
the file was stored deletes it at once, and if the caller's transaction (or savepoint)
rolls back later, the stored file is deleted too (see :class:`_DeleteOnRollback`).
"""

from __future__ import annotations

import hashlib
import io
import logging
import weakref
from typing import Any

import segno
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from tambo.catalog.models import Agency
from tambo.core import audit, clock

from . import keys
from .errors import DocumentFailed
from .models import DocumentKind, IssuedDocument
from .public import clean_public_fields, format_code, new_code, verification_url

log = logging.getLogger(__name__)

SIGNATURE_FIELD = "Signature1"
SIGNATURE_LOCATION = "Peru"
# Room for the CMS signature (RSA-2048 or P-256, two certificates: about 3 KB), so pyHanko
# does not have to sign a dummy first to measure it.
SIGNATURE_BYTES_RESERVED = 8192
REASON_CODE_PREFIX = "código de verificación"


def _offline_fetcher() -> Any:
    """A WeasyPrint URL fetcher that only reads ``data:`` URLs (images must be embedded)."""
    try:
        from weasyprint.urls import URLFetcher  # WeasyPrint >= 68
    except ImportError:  # pragma: no cover - older WeasyPrint: a fetcher function
        from weasyprint import default_url_fetcher

        def fetch(url: str, *args: Any, **kwargs: Any) -> Any:
            if not url.startswith("data:"):
                raise ValueError(f"documents are rendered offline, not fetched: {url}")
            return default_url_fetcher(url, *args, **kwargs)

        return fetch
    return URLFetcher(allowed_protocols={"data"})


def render_pdf(html: str) -> bytes:
    """HTML to PDF with WeasyPrint. Only ``data:`` URLs are read: never the network or disk."""
    from weasyprint import HTML  # heavy import, only when a PDF is made

    try:
        return HTML(string=html, url_fetcher=_offline_fetcher()).write_pdf()
    except Exception as exc:
        log.exception("PDF rendering failed")
        raise DocumentFailed(_("No se pudo generar el PDF del documento.")) from exc


def sign_pdf(pdf: bytes, signer: Any, *, reason: str) -> bytes:
    """Sign ``pdf`` as PAdES (B-B: no time-stamp authority, no network) in an incremental update."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=SIGNATURE_LOCATION,
    )
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        output = signers.sign_pdf(
            writer, metadata, signer=signer, bytes_reserved=SIGNATURE_BYTES_RESERVED
        )
        return output.getvalue()
    except Exception as exc:
        log.exception("PDF signing failed")
        raise DocumentFailed(_("No se pudo firmar el documento.")) from exc


def qr_data_uri(url: str) -> str:
    return segno.make(url, error="m").svg_data_uri(scale=3, border=1)


def _signing_reason(kind: str, code: str) -> str:
    # Fixed Spanish text: the verifier reads the code back from it.
    with translation.override("es"):
        return f"{DocumentKind(kind).label} · {REASON_CODE_PREFIX} {code}"


def _unused_code() -> str:
    # 31^12 codes: a clash is practically impossible, but cheap to rule out before rendering.
    for _attempt in range(5):
        code = new_code()
        if not IssuedDocument.objects.filter(code=code).exists():
            return code
    raise DocumentFailed(_("No se pudo asignar un código de verificación."))


class _DeleteOnRollback:
    """An ``on_commit`` callback whose only job is to be dropped: then it deletes a stored file.

    Django has no rollback hook, but when a transaction or a savepoint rolls back it drops
    the ``on_commit`` callbacks registered inside it without calling them. This callback
    owns a finalizer that deletes the file when the callback is released uncalled; calling
    it (the transaction committed) disarms the finalizer. The connection's state at the
    moment of release tells a rollback from a commit:

    - inside a transaction (a savepoint rolled back), or at the end of the outermost block
      with autocommit still off (the transaction rolled back): the file is deleted;
    - with autocommit back on and no transaction open: the transaction committed (the
      callback was released without being called because an earlier ``on_commit`` callback
      of the caller failed, or later): the file is kept, as its row was committed.
    """

    def __init__(self, storage: Storage, name: str) -> None:
        connection = transaction.get_connection()
        self._finalizer = weakref.finalize(self, _delete_if_rolled_back, storage, name, connection)

    def __call__(self) -> None:
        self._finalizer.detach()


def _delete_if_rolled_back(storage: Storage, name: str, connection: Any) -> None:
    if connection.autocommit and not connection.in_atomic_block:
        return
    try:
        storage.delete(name)
    except Exception:
        log.exception("could not delete %s after its transaction rolled back", name)


def issue_pdf(
    *,
    agency: Agency,
    kind: str,
    title: str,
    template_name: str,
    context: dict[str, Any],
    subject_type: str,
    subject_id: str,
    public_fields: dict[str, Any],
    actor: Any,
) -> IssuedDocument:
    """Render ``template_name`` to PDF, sign it with the agency's key, store and register it.

    Must run inside the caller's ``transaction.atomic()``. The template gets ``context``
    plus ``verification_code``, ``verification_code_display``, ``verification_url`` and
    ``qr_svg`` (include ``documents/_verification_footer.html`` to print them).
    ``public_fields`` must only hold what ``kind`` allows to show (see
    :data:`tambo.documents.public.ALLOWED_FIELDS`); personal data never goes there.

    Raises :class:`~tambo.documents.errors.SigningUnavailable` if the agency's key cannot
    be used, :class:`~tambo.documents.errors.DocumentFailed` if rendering or signing fails,
    ``ValueError`` for arguments the caller got wrong.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("issue_pdf must run inside the caller's transaction.atomic()")
    if kind not in DocumentKind.values:
        raise ValueError(f"unknown document kind {kind!r}")
    if not title or len(title) > 200:
        raise ValueError("title must have 1 to 200 characters")
    if not (0 < len(subject_type) <= 40 and 0 < len(str(subject_id)) <= 80):
        raise ValueError("subject_type (up to 40) and subject_id (up to 80) are required")
    shown = clean_public_fields(kind, public_fields)
    signer = keys.load_signer(agency.code)

    code = _unused_code()
    url = verification_url(code)
    try:
        html = render_to_string(
            template_name,
            {
                **context,
                "verification_code": code,
                "verification_code_display": format_code(code),
                "verification_url": url,
                "qr_svg": qr_data_uri(url),
            },
        )
    except Exception as exc:
        log.exception("template %s could not be rendered", template_name)
        raise DocumentFailed(_("No se pudo generar el PDF del documento.")) from exc
    signed = sign_pdf(render_pdf(html), signer, reason=_signing_reason(kind, code))
    sha256 = hashlib.sha256(signed).hexdigest()

    document = IssuedDocument(
        code=code,
        kind=kind,
        agency=agency,
        subject_type=subject_type,
        subject_id=str(subject_id),
        title=title,
        issued_at=clock.now(),
        sha256=sha256,
        size=len(signed),
        public_fields=shown,
        signer_certificate_sha256=keys.certificate_sha256(signer.signing_cert),
    )
    storage = IssuedDocument.file.field.storage
    stored_name: str | None = None
    try:
        # A savepoint: if registering fails, the row and the audit entry go with it even
        # when the caller catches the error and commits.
        with transaction.atomic():
            document.file.save(f"{code}.pdf", ContentFile(signed), save=False)
            stored_name = document.file.name
            transaction.on_commit(_DeleteOnRollback(storage, stored_name))
            document.save()
            audit.record(
                "document.issued",
                "document",
                code,
                actor=actor,
                agency_code=agency.code,
                data={
                    "kind": kind,
                    "subject": {"type": subject_type, "id": str(subject_id)},
                    "sha256": sha256,
                },
            )
    except BaseException:
        if stored_name:
            storage.delete(stored_name)
        raise
    return document
