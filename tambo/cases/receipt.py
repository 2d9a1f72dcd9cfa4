"""The cargo de recepción as a signed PDF, registered so that anyone can verify it.

The receipt is issued (rendered, signed with the agency's key, registered) the first time
it is asked for, not during the filing itself: filing stays fast, and the document carries
exactly the data recorded at filing. Later downloads return the same registered file.
"""

from __future__ import annotations

import segno
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from tambo.core import clock
from tambo.identity.language import in_language_of

from .models import Filing
from .presenters import filing_view


def status_url(filing: Filing) -> str:
    return (
        settings.TAMBO_PUBLIC_URL.rstrip("/")
        + reverse("cases:status_lookup")
        + f"?numero={filing.number}"
    )


def receipt_document(filing: Filing):  # type: ignore[no-untyped-def]
    """The registered receipt of the expediente, issued now if it was never asked for."""
    from tambo.documents.actions import issue_pdf
    from tambo.documents.models import IssuedDocument

    def existing():  # type: ignore[no-untyped-def]
        return IssuedDocument.objects.filter(
            subject_type="filing", subject_id=filing.number, kind="receipt"
        ).first()

    found = existing()
    if found is not None:
        return found
    with transaction.atomic():
        # Lock the expediente so two first downloads at once issue one receipt.
        Filing.objects.select_for_update(of=("self",)).filter(pk=filing.pk).first()
        found = existing()
        if found is not None:
            return found
        # The receipt is the citizen's: rendered in their language whoever downloads it first.
        with in_language_of(filing.citizen):
            return _issue_receipt(filing, issue_pdf)


def _issue_receipt(filing: Filing, issue_pdf):  # type: ignore[no-untyped-def]
    view = filing_view(filing)
    status_qr = segno.make(status_url(filing), error="m")
    with translation.override("es"):
        spanish_type = _("Cargo de recepción")
    return issue_pdf(
        agency=filing.agency,
        kind="receipt",
        title=_("Cargo de recepción — %(number)s") % {"number": filing.number},
        template_name="cases/receipt_pdf.html",
        context={
            "f": view,
            "status_qr_svg": status_qr.svg_data_uri(scale=3, border=1),
            "status_url": status_url(filing),
            "site_name": settings.TAMBO_SITE_NAME,
            # Obtained requirements are printed as they stand now; the receipt is never
            # re-issued, what arrives later gets its own constancia (evidence_certificate).
            "evidence_as_of": clock.now(),
        },
        subject_type="filing",
        subject_id=filing.number,
        public_fields={
            "tipo": spanish_type,
            "expediente": filing.number,
            "entidad": filing.agency.name,
            "recepcion": filing.received_on.isoformat(),
            "plazo": filing.due_on.isoformat(),
        },
        actor=None,
    )


def receipt_pdf(filing: Filing) -> bytes:
    document = receipt_document(filing)
    with document.file.open("rb") as handle:
        return handle.read()
