"""Check uploaded files by their content (magic bytes and a complete ending), then their name.

Only the types citizens need for evidence are accepted: PDF, JPEG and PNG. A file
that is empty, cut short, or says it is one type but is another is refused. So is a file
that is also another format (a ZIP or HTML polyglot), a PDF that carries active content
(JavaScript, launch actions, embedded files, forms that submit, XFA), a PDF whose
compressed streams inflate beyond a sane ratio (a compression bomb), and a name that is a
path, hides characters, or whose extension disagrees with the content.

A name that tries path traversal (a ``..`` component, an absolute or UNC path: the rule is in
:mod:`tambo.core.upload_names`) is refused first, before the content is read, whether it is
handed to us raw (``filename``) or arrived over HTTP, where Django's parser trims it to its base
name and :class:`tambo.core.upload_names.UploadNameMiddleware` marks the file with the name as
sent. See docs/security.md.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.utils.translation import gettext as _

from tambo.core.upload_names import is_traversal, sent_path, traversal_message

MEDIA_TYPES = {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png"}
TYPE_NAMES = {"pdf": "PDF", "jpeg": "JPG", "png": "PNG"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"
# Extensions a name may end with for each type, and the content types a client may claim.
EXTENSIONS = {"pdf": {".pdf"}, "jpeg": {".jpg", ".jpeg", ".jpe"}, "png": {".png"}}
GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream"}
CLAIMED_TYPES = {
    "pdf": {"application/pdf", "application/x-pdf"},
    "jpeg": {"image/jpeg", "image/pjpeg"},
    "png": {"image/png", "image/x-png"},
}
MAX_NAME_CHARS = 200
# PDF names that make a reader run, launch, submit or unpack something.
ACTIVE_PDF_NAMES = {
    b"JavaScript",
    b"JS",
    b"Launch",
    b"EmbeddedFile",
    b"EmbeddedFiles",
    b"RichMedia",
    b"XFA",
    b"AA",
    b"SubmitForm",
    b"ImportData",
    b"GoToE",
    b"Sound",
    b"Movie",
}
PDF_NAME = re.compile(rb"/([^\s/<>\[\]()%{}]+)")
PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
PDF_STREAM = re.compile(rb"stream\r?\n")
# Markup a browser would sniff as HTML (or script) in the first bytes of a file.
HTML_MARKERS = re.compile(
    rb"<\s*(html|script|body|head|iframe|svg|object|embed|meta|!doctype|\?xml)", re.IGNORECASE
)


class UploadRejected(ValueError):
    """The file cannot be accepted; the message says why, for the citizen."""


@dataclass(frozen=True)
class CheckedFile:
    kind: str
    media_type: str
    size: int
    sha256: str


def sniff(head: bytes) -> str | None:
    """The type announced by the first bytes, or ``None``."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(PNG_SIGNATURE):
        return "png"
    return None


def is_complete(kind: str, tail: bytes) -> bool:
    """Whether the file ends as a whole file of its type does (not truncated)."""
    if kind == "pdf":
        return b"%%EOF" in tail[-1024:]
    if kind == "jpeg":
        return tail.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9")
    if kind == "png":
        return tail.endswith(PNG_END)
    return False


def check_file(
    stream: IO[bytes],
    *,
    accepted: tuple[str, ...],
    max_bytes: int,
    filename: str | None = None,
    claimed_type: str | None = None,
) -> CheckedFile:
    """Read the stream: size, SHA-256, type by content, completeness, then what it hides.

    ``filename`` and ``claimed_type`` (what the client said) must agree with the content
    when given; nothing about the file is trusted from them. A name that tries path
    traversal, given as ``filename`` or marked on the uploaded file, is refused at once.
    """
    if sent_path(stream) is not None or (filename is not None and is_traversal(filename)):
        raise UploadRejected(traversal_message())
    digest = hashlib.sha256()
    size = 0
    head = b""
    tail = b""
    stream.seek(0)
    while chunk := stream.read(64 * 1024):
        if not head:
            head = chunk[:16]
        size += len(chunk)
        if size > max_bytes:
            raise UploadRejected(
                _("El archivo pesa más de %(mb)s MB, el máximo permitido.") % {"mb": _mb(max_bytes)}
            )
        digest.update(chunk)
        tail = (tail + chunk)[-1024:]
    stream.seek(0)
    allowed = ", ".join(TYPE_NAMES[k] for k in accepted)
    if size == 0:
        raise UploadRejected(_("El archivo está vacío."))
    kind = sniff(head)
    if kind is None or kind not in accepted:
        raise UploadRejected(
            _("El archivo no es de un tipo permitido. Tipos permitidos: %(types)s.")
            % {"types": allowed}
        )
    if not is_complete(kind, tail):
        raise UploadRejected(
            _("El archivo está incompleto o dañado. Vuelva a generarlo y adjúntelo otra vez.")
        )
    if HTML_MARKERS.search(head_bytes(stream)) or zipfile.is_zipfile(stream):
        stream.seek(0)
        raise UploadRejected(
            _(
                "El archivo contiene otro formato escondido y no se puede aceptar. Guárdelo de nuevo como %(type)s."
            )
            % {"type": TYPE_NAMES[kind]}
        )
    stream.seek(0)
    if kind == "pdf":
        check_pdf_content(stream.read())
        stream.seek(0)
    if filename is not None:
        check_name(filename, kind)
    if claimed_type is not None:
        claimed = claimed_type.split(";")[0].strip().lower()
        if claimed not in GENERIC_TYPES and claimed not in CLAIMED_TYPES[kind]:
            raise UploadRejected(
                _("El tipo declarado del archivo no coincide con su contenido (%(type)s).")
                % {"type": TYPE_NAMES[kind]}
            )
    return CheckedFile(kind, MEDIA_TYPES[kind], size, digest.hexdigest())


def head_bytes(stream: IO[bytes], size: int = 1024) -> bytes:
    stream.seek(0)
    head = stream.read(size)
    stream.seek(0)
    return head


def check_name(filename: str, kind: str) -> None:
    """The name is shown back to people: no path, no hidden characters, the right extension."""
    if (
        any(ch in filename for ch in '/\\:<>"|?*')
        or filename.startswith(".")
        or any(unicodedata.category(ch)[0] in {"C", "Z"} and ch != " " for ch in filename)
    ):
        raise UploadRejected(
            _(
                "El nombre del archivo tiene caracteres no permitidos. Cámbielo y adjúntelo otra vez."
            )
        )
    if len(filename) > MAX_NAME_CHARS:
        raise UploadRejected(
            _("El nombre del archivo es demasiado largo (máximo %(n)s caracteres).")
            % {"n": MAX_NAME_CHARS}
        )
    extension = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension not in EXTENSIONS[kind]:
        raise UploadRejected(
            _("La extensión del nombre no coincide con el contenido: el archivo es %(type)s.")
            % {"type": TYPE_NAMES[kind]}
        )


def _names(data: bytes) -> set[bytes]:
    """Every PDF name in ``data``, with ``#xx`` escapes decoded (``/J#61vaScript``)."""
    found = set()
    for match in PDF_NAME.finditer(data):
        name = match.group(1)
        if b"#" in name:
            name = PDF_NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), name)
        found.add(name)
    return found


def _inflated_names(data: bytes) -> set[bytes]:
    """The names inside every zlib stream (object streams hide dictionaries there).

    Inflation stops at ``TAMBO_MAX_PDF_INFLATED_BYTES`` over the whole file: beyond that the file is a
    compression bomb (zlib inflates at most ~1000:1, so a 10 MB file could become 10 GB).
    """
    names: set[bytes] = set()
    budget = settings.TAMBO_MAX_PDF_INFLATED_BYTES
    for match in PDF_STREAM.finditer(data):
        start = match.end()
        end = data.find(b"endstream", start)
        inflater = zlib.decompressobj()
        try:
            chunk = inflater.decompress(data[start : end if end != -1 else len(data)], budget + 1)
        except zlib.error:
            continue  # not Flate (an image, or another filter): no dictionaries to read
        budget -= len(chunk)
        if budget < 0:
            raise UploadRejected(
                _("El PDF tiene contenido comprimido de forma anómala y no se puede aceptar.")
            )
        names |= _names(chunk)
    return names


def check_pdf_content(data: bytes) -> None:
    """Refuse a PDF that would run, launch, submit or carry files when opened."""
    names = _names(data) | _inflated_names(data)
    if names & ACTIVE_PDF_NAMES:
        raise UploadRejected(
            _(
                "El PDF contiene contenido activo (JavaScript, acciones automáticas, formularios "
                "o archivos incrustados) y no se puede aceptar. Imprímalo a PDF o escanéelo de nuevo."
            )
        )


def _mb(size: int) -> str:
    value = size / (1024 * 1024)
    shown = f"{value:.2f}".rstrip("0").rstrip(".")
    return shown if shown != "0" else "0.01"
