"""Every file Tambo hands out (receipts, signed documents) goes through :func:`attachment`.

Files are downloaded, never shown or run from the site's origin: ``Content-Disposition:
attachment`` with a safe name (RFC 6266: an ASCII ``filename`` and the exact ``filename*``),
a fixed content type the server chose (never the uploader's), ``nosniff``, and a CSP
``sandbox`` so that even a browser that renders the file inline gives it no script, no
forms and no access to the origin.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from django.http import HttpResponse

FILE_CSP = (
    "sandbox; default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str, *, default: str = "documento") -> str:
    """A plain name: no directories, no control or quote characters, at most 120 characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip(". ")
    return base[:120] or default


def content_disposition(name: str) -> str:
    """``attachment; filename="ascii"; filename*=UTF-8''exact`` for ``name``."""
    exact = safe_filename(name)
    ascii_name = unicodedata.normalize("NFKD", exact).encode("ascii", "ignore").decode()
    ascii_name = UNSAFE_NAME_CHARS.sub("_", ascii_name).strip("._") or "documento"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(exact, safe='')}"


def attachment(content: bytes, name: str, content_type: str) -> HttpResponse:
    """A download of ``content`` saved as ``name``; ``content_type`` is the server's, fixed."""
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition(name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    response["Cache-Control"] = "private, no-store"
    return response
