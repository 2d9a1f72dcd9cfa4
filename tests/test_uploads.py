"""Uploaded files are checked by content, never by name (tambo.cases.uploads.check_file)."""

from __future__ import annotations

import hashlib
import io

import pytest

from tambo.cases.uploads import UploadRejected, check_file
from tambo.demo.samples import MINIMAL_PDF
from tests.conftest import PNG_1PX

ALL = ("pdf", "jpeg", "png")
TEN_MB = 10 * 1024 * 1024

# A minimal JPEG: SOI, a JFIF APP0 segment (length 16), then EOI.
MINIMAL_JPEG = (
    b"\xff\xd8"  # SOI
    b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"  # APP0 / JFIF 1.1
    b"\xff\xd9"  # EOI
)


def stream(data: bytes, name: str | None = None) -> io.BytesIO:
    s = io.BytesIO(data)
    if name:
        s.name = name
    return s


def rejected(data: bytes, *, accepted=ALL, max_bytes=TEN_MB) -> str:
    with pytest.raises(UploadRejected) as info:
        check_file(stream(data), accepted=accepted, max_bytes=max_bytes)
    return str(info.value)


# --- accepted files --------------------------------------------------------------------------


def test_accepts_a_minimal_pdf():
    checked = check_file(stream(MINIMAL_PDF), accepted=ALL, max_bytes=TEN_MB)
    assert checked.kind == "pdf"
    assert checked.media_type == "application/pdf"


def test_accepts_a_png():
    checked = check_file(stream(PNG_1PX), accepted=ALL, max_bytes=TEN_MB)
    assert checked.kind == "png"
    assert checked.media_type == "image/png"


def test_accepts_a_minimal_jpeg():
    assert MINIMAL_JPEG.startswith(b"\xff\xd8\xff\xe0")
    assert MINIMAL_JPEG.endswith(b"\xff\xd9")
    checked = check_file(stream(MINIMAL_JPEG), accepted=ALL, max_bytes=TEN_MB)
    assert checked.kind == "jpeg"
    assert checked.media_type == "image/jpeg"


@pytest.mark.parametrize("data", [MINIMAL_PDF, PNG_1PX, MINIMAL_JPEG])
def test_size_and_sha256_match_hashlib(data):
    checked = check_file(stream(data), accepted=ALL, max_bytes=TEN_MB)
    assert checked.size == len(data)
    assert checked.sha256 == hashlib.sha256(data).hexdigest()


def test_hash_of_a_file_larger_than_one_read_chunk():
    # 200 KiB spans several 64 KiB reads; the digest must cover all of them.
    data = MINIMAL_PDF[:-6] + b"%" * (200 * 1024) + b"\n%%EOF\n"
    checked = check_file(stream(data), accepted=("pdf",), max_bytes=TEN_MB)
    assert checked.size == len(data)
    assert checked.sha256 == hashlib.sha256(data).hexdigest()


def test_stream_is_rewound_after_the_check():
    s = stream(MINIMAL_PDF)
    s.seek(10)
    check_file(s, accepted=ALL, max_bytes=TEN_MB)
    assert s.tell() == 0
    assert s.read() == MINIMAL_PDF


def test_a_file_of_exactly_max_bytes_is_accepted():
    checked = check_file(stream(PNG_1PX), accepted=ALL, max_bytes=len(PNG_1PX))
    assert checked.size == len(PNG_1PX)


def test_type_is_decided_by_content_not_by_name():
    # A real PDF called "foto.png" is a PDF.
    checked = check_file(stream(MINIMAL_PDF, "foto.png"), accepted=ALL, max_bytes=TEN_MB)
    assert checked.kind == "pdf"


# --- refused files ---------------------------------------------------------------------------


def test_refuses_an_empty_file():
    assert rejected(b"") == "El archivo está vacío."


def test_refuses_a_truncated_pdf():
    half = MINIMAL_PDF[: len(MINIMAL_PDF) // 2]
    assert half.startswith(b"%PDF-")
    assert "incompleto o dañado" in rejected(half)


def test_refuses_a_truncated_png():
    assert "incompleto o dañado" in rejected(PNG_1PX[:-4])


def test_refuses_a_truncated_jpeg():
    assert "incompleto o dañado" in rejected(MINIMAL_JPEG[:-2])


def test_refuses_a_png_named_pdf_when_only_pdf_is_accepted():
    with pytest.raises(UploadRejected) as info:
        check_file(stream(PNG_1PX, "plano.pdf"), accepted=("pdf",), max_bytes=TEN_MB)
    message = str(info.value)
    assert "no es de un tipo permitido" in message
    assert "Tipos permitidos: PDF." in message


def test_refuses_a_jpeg_when_only_pdf_and_png_are_accepted():
    message = rejected(MINIMAL_JPEG, accepted=("pdf", "png"))
    assert "no es de un tipo permitido" in message
    assert "Tipos permitidos: PDF, PNG." in message


def test_refuses_a_text_file():
    message = rejected(b"Hola, adjunto mi recibo de luz.\n")
    assert "no es de un tipo permitido" in message
    assert "PDF, JPG, PNG" in message


def test_refuses_a_file_over_max_bytes():
    message = rejected(PNG_1PX, max_bytes=len(PNG_1PX) - 1)
    assert message.startswith("El archivo pesa más de")
    assert "el máximo permitido" in message


def test_refuses_a_file_over_5_mb_naming_the_limit():
    five_mb = 5 * 1024 * 1024
    data = MINIMAL_PDF + b"%" * five_mb  # over the limit, still a PDF by its head
    message = rejected(data, max_bytes=five_mb)
    assert message == "El archivo pesa más de 5 MB, el máximo permitido."
