"""The cargo de recepción as a PDF (WeasyPrint), with a QR code to check the status."""

from __future__ import annotations

import segno
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from .models import Filing
from .presenters import filing_view


def status_url(filing: Filing) -> str:
    return (
        settings.TAMBO_PUBLIC_URL.rstrip("/")
        + reverse("cases:status_lookup")
        + f"?numero={filing.number}"
    )


def receipt_html(filing: Filing) -> str:
    qr = segno.make(status_url(filing), error="m")
    return render_to_string(
        "cases/receipt_pdf.html",
        {
            "f": filing_view(filing),
            "qr_svg": qr.svg_data_uri(scale=3, border=1),
            "status_url": status_url(filing),
            "site_name": settings.TAMBO_SITE_NAME,
        },
    )


def receipt_pdf(filing: Filing) -> bytes:
    from weasyprint import HTML  # heavy import, only when a PDF is asked for

    return HTML(string=receipt_html(filing)).write_pdf()
