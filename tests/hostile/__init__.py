"""A corpus of hostile uploads, built in code so every byte is reviewable here.

Each case is a file a citizen (or an attacker with a citizen's account) could send to a file
field: polyglots, PDFs with active content, compression bombs, SVG with script, wrong magic
bytes, hostile names, oversized and empty files. Every one must be refused with a field error
and leave nothing stored. ``NEUTRALIZED_NAMES`` are names the HTTP layer (Django's multipart
parser) already reduces to a bare file name before any of our code sees them.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass

from tambo.demo.samples import MINIMAL_PDF
from tests.conftest import PNG_1PX

MINIMAL_JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"  # SOI, APP0/JFIF
    b"\xff\xd9"  # EOI
)
# What the tests set TAMBO_MAX_FILE_BYTES to, so that "oversized" stays small in memory.
SMALL_LIMIT = 256 * 1024
# What the tests set TAMBO_MAX_PDF_INFLATED_BYTES to (the bomb inflates to twice that).
SMALL_INFLATE_LIMIT = 4 * 1024 * 1024


@dataclass(frozen=True)
class Hostile:
    id: str
    name: str
    data: bytes
    content_type: str = "application/pdf"


def pdf(*objects: bytes, tail: bytes = b"") -> bytes:
    """A PDF whose catalogue is object 1; ``objects`` follow it (xref offsets do not matter)."""
    body = b"%PDF-1.7\n" + b"\n".join(objects) + b"\n"
    return body + b"trailer<</Size 9/Root 1 0 R>>\nstartxref\n9\n" + tail + b"%%EOF\n"


PAGES = (
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R>>endobj"
)


def flate_stream(number: int, content: bytes) -> bytes:
    packed = zlib.compress(content, 9)
    return (
        f"{number} 0 obj<</Length {len(packed)}/Filter/FlateDecode>>stream\n".encode()
        + packed
        + b"\nendstream endobj"
    )


def zip_bytes(members: dict[str, bytes], comment: bytes = b"") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
        archive.comment = comment
    return out.getvalue()


def _corpus() -> list[Hostile]:
    js = b"1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction<</S/JavaScript/JS(app.alert(1))>>>>endobj"
    cases = [
        # --- PDFs with active content ---
        Hostile("pdf-openaction-javascript", "factura.pdf", pdf(js, PAGES)),
        Hostile(
            "pdf-js-additional-action",
            "factura.pdf",
            pdf(
                b"1 0 obj<</Type/Catalog/Pages 2 0 R/AA<</O 4 0 R>>>>endobj",
                PAGES,
                b"4 0 obj<</S/JavaScript/JS 5 0 R>>endobj",
            ),
        ),
        Hostile(
            "pdf-launch-action",
            "factura.pdf",
            pdf(
                b"1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction<</S/Launch/F(cmd.exe)>>>>endobj",
                PAGES,
            ),
        ),
        Hostile(
            "pdf-embedded-file",
            "factura.pdf",
            pdf(
                b"1 0 obj<</Type/Catalog/Pages 2 0 R/Names<</EmbeddedFiles 4 0 R>>>>endobj",
                PAGES,
                b"4 0 obj<</Names[(x.exe) 5 0 R]>>endobj",
                b"5 0 obj<</Type/Filespec/F(x.exe)/EF<</F 6 0 R>>>>endobj",
                b"6 0 obj<</Type/EmbeddedFile/Length 2>>stream\nMZ\nendstream endobj",
            ),
        ),
        Hostile(
            "pdf-name-hex-escaped-javascript",
            "factura.pdf",
            pdf(
                b"1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction<</S/J#61vaScript/J#53(x)>>>>endobj",
                PAGES,
            ),
        ),
        Hostile(
            "pdf-javascript-inside-object-stream",
            "factura.pdf",
            pdf(
                b"1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction 7 0 R>>endobj",
                PAGES,
                flate_stream(8, b"7 0 <</S/JavaScript/JS(app.launchURL('http://x'))>>"),
            ),
        ),
        Hostile(
            "pdf-xfa-form",
            "factura.pdf",
            pdf(
                b"1 0 obj<</Type/Catalog/Pages 2 0 R/AcroForm<</Fields[]/XFA 4 0 R>>>>endobj",
                PAGES,
            ),
        ),
        Hostile(
            "pdf-submit-form",
            "factura.pdf",
            pdf(
                b"1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction<</S/SubmitForm/F(http://x)>>>>endobj",
                PAGES,
            ),
        ),
        Hostile(
            "pdf-flate-bomb",
            "factura.pdf",
            pdf(
                b"1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj",
                PAGES,
                flate_stream(9, bytes(2 * SMALL_INFLATE_LIMIT)),
            ),
        ),
        # --- polyglots ---
        Hostile(
            "pdf-zip-polyglot",
            "factura.pdf",
            MINIMAL_PDF + zip_bytes({"evil.html": b"<script>alert(1)</script>"}, b"\n%%EOF\n"),
        ),
        Hostile(
            "pdf-html-polyglot",
            "factura.pdf",
            b"%PDF-1.4\n<html><body><script>alert(document.cookie)</script></body></html>\n"
            + MINIMAL_PDF.split(b"\n", 1)[1],
        ),
        Hostile(
            "jpeg-zip-polyglot",
            "foto.jpg",
            MINIMAL_JPEG[:-2] + zip_bytes({"a.js": b"alert(1)"}, b"\xff\xd9"),
            "image/jpeg",
        ),
        Hostile(
            "jpeg-html-in-comment",
            "foto.jpg",
            MINIMAL_JPEG[:2]
            + b"\xff\xfe\x00\x22<script>alert(1)</script>        "
            + MINIMAL_JPEG[2:],
            "image/jpeg",
        ),
        Hostile(
            "png-with-html-chunk",
            "foto.png",
            PNG_1PX[:33] + b"\x00\x00\x00\x14tEXt<html><script>x</script>" + PNG_1PX[33:],
            "image/png",
        ),
        # --- SVG, HTML, archives ---
        Hostile(
            "svg-with-script",
            "logo.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image/svg+xml",
        ),
        Hostile(
            "svg-named-pdf",
            "plano.pdf",
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        ),
        Hostile("html-named-pdf", "plano.pdf", b"<!doctype html><script>alert(1)</script>"),
        Hostile("zip-named-pdf", "plano.pdf", zip_bytes({"plano.pdf": MINIMAL_PDF})),
        Hostile(
            "zip-bomb",
            "anexos.zip",
            zip_bytes({f"{n}.bin": bytes(4 * 1024 * 1024) for n in range(8)}),
            "application/zip",
        ),
        Hostile("exe-named-pdf", "plano.pdf", b"MZ\x90\x00" + bytes(60) + b"PE\x00\x00"),
        # --- wrong magic bytes for the claimed type or extension ---
        Hostile("png-named-pdf", "plano.pdf", PNG_1PX),
        Hostile("pdf-named-jpg", "foto.jpg", MINIMAL_PDF, "image/jpeg"),
        Hostile("pdf-claimed-as-html", "plano.pdf", MINIMAL_PDF, "text/html"),
        Hostile("pdf-named-exe", "factura.exe", MINIMAL_PDF, "application/octet-stream"),
        Hostile("pdf-truncated", "plano.pdf", MINIMAL_PDF[:-20]),
        # --- hostile names that reach us (the multipart parser keeps them) ---
        Hostile("name-nul-truncation", "factura.pdf\x00.exe", MINIMAL_PDF),
        Hostile("name-right-to-left-override", "factura\u202efdp.exe", MINIMAL_PDF),
        Hostile("name-dotfile", ".htaccess", MINIMAL_PDF),
        Hostile("name-windows-drive", "C:factura.pdf", MINIMAL_PDF),
        Hostile("name-alternate-stream", "factura.pdf:evil.exe", MINIMAL_PDF),
        Hostile("name-very-long", "a" * 300 + ".pdf", MINIMAL_PDF),
        Hostile("name-traversal-no-extension", "../../etc/passwd", MINIMAL_PDF),
        Hostile("name-windows-traversal", "..\\..\\windows\\win.ini", MINIMAL_PDF),
        # --- size ---
        Hostile("empty", "plano.pdf", b""),
        Hostile(
            "oversized",
            "plano.pdf",
            MINIMAL_PDF[:-6] + b"%" * SMALL_LIMIT + b"\n%%EOF\n",
        ),
    ]
    return cases


CORPUS = _corpus()

# Names that try path traversal (tambo/core/upload_names.py: is_traversal). Django's multipart
# parser would keep only their last part ("passwd.pdf"); Tambo refuses them over HTTP as well as
# wherever a raw name reaches an action.
TRAVERSAL_NAMES = [
    "../../etc/passwd.pdf",
    "/etc/passwd.pdf",
    "..\\..\\boot.pdf",
    "documentos/../../../var/www/x.pdf",
    "C:\\Users\\rosa\\..\\..\\x.pdf",
    "\\\\servidor\\compartido\\x.pdf",
    "..&#47;..&#47;x.pdf",
    ".. \\x.pdf",
    ".\u200b./x.pdf",
    "../",
]
# Paths that are not traversal: old browsers send a Windows full path for an ordinary file.
# They are accepted under their base name, x.pdf.
PLAIN_PATH_NAMES = ["C:\\Users\\rosa\\x.pdf", "C:\\x.pdf"]
