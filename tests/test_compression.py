"""Dynamic HTML and JSON travel gzip-compressed (with Django's BREACH padding); PDFs do not."""

from __future__ import annotations

import gzip

import pytest
from django.test import Client

from tambo.cases import actions

from .conftest import answers_for, without_file_field

pytestmark = pytest.mark.django_db
GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def test_html_pages_are_gzipped_for_browsers_that_accept_it(catalog):
    plain = Client().get("/tramites/")
    assert plain.status_code == 200 and not plain.has_header("Content-Encoding")
    packed = Client(headers=GZIP).get("/tramites/")
    assert packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed["Vary"]
    html = gzip.decompress(packed.content).decode()
    assert "<html" in html and len(packed.content) < len(plain.content) / 2


def test_api_json_is_gzipped(catalog):
    answer = Client(headers=GZIP).get("/api/v1/procedures")
    assert answer["Content-Encoding"] == "gzip"
    assert gzip.decompress(answer.content).startswith(b"[")


def test_the_breach_padding_varies_the_length_of_the_same_page(catalog):
    lengths = {len(Client(headers=GZIP).get("/tramites/").content) for _ in range(8)}
    assert len(lengths) > 1, "every response had the same compressed length"


def test_pdfs_are_sent_as_they_are(citizen, catalog):
    proc = without_file_field(catalog)
    filing = actions.file_directly(citizen, proc, answers_for(proc)).filing
    browser = Client(headers=GZIP)
    browser.force_login(citizen)
    pdf = browser.get(f"/expedientes/{filing.number}/cargo.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert not pdf.has_header("Content-Encoding")
    body = b"".join(pdf.streaming_content) if pdf.streaming else pdf.content
    assert body.startswith(b"%PDF")
