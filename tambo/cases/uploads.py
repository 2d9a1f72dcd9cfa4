"""Check uploaded files by their content (magic bytes and a complete ending), not their name.

Only the types citizens need for evidence are accepted: PDF, JPEG and PNG. A file
that is empty, cut short, or says it is one type but is another is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import IO

from django.utils.translation import gettext as _

MEDIA_TYPES = {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png"}
TYPE_NAMES = {"pdf": "PDF", "jpeg": "JPG", "png": "PNG"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"


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


def check_file(stream: IO[bytes], *, accepted: tuple[str, ...], max_bytes: int) -> CheckedFile:
    """Read the stream once: size, SHA-256, type by content, completeness."""
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
    return CheckedFile(kind, MEDIA_TYPES[kind], size, digest.hexdigest())


def _mb(size: int) -> str:
    value = size / (1024 * 1024)
    shown = f"{value:.2f}".rstrip("0").rstrip(".")
    return shown if shown != "0" else "0.01"
