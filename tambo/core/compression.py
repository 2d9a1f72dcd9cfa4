"""gzip for dynamic text responses (HTML, JSON), with Django's BREACH padding.

Django's ``GZipMiddleware`` compresses whatever it is given; this subclass only lets it at
text (HTML, JSON, CSV, XML, JavaScript): PDFs, images and ZIP files are already compressed,
so gzip would spend CPU for nothing and hide their ``Content-Length`` from the browser's
download progress. Static files come precompressed from WhiteNoise and carry a
``Content-Encoding``, which the parent class leaves alone. See docs/security.md for BREACH.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.middleware.gzip import GZipMiddleware

COMPRESSIBLE = ("text/", "application/json", "application/problem+json", "application/xml")
COMPRESSIBLE_SUFFIXES = ("+json", "+xml", "javascript")


def compressible(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind.startswith(COMPRESSIBLE) or kind.endswith(COMPRESSIBLE_SUFFIXES)


class TextCompressionMiddleware(GZipMiddleware):
    """``GZipMiddleware`` (random-length gzip header against BREACH) for text responses only."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not compressible(response.get("Content-Type", "")):
            return response
        return super().process_response(request, response)
