"""The receipt (cargo de recepción) is a signed, registered document anyone can verify."""

from __future__ import annotations

import pytest

from tambo.cases import actions
from tambo.documents.models import IssuedDocument
from tambo.documents.verify import check_pdf

from .conftest import answers_for, token_client, without_file_field

pytestmark = pytest.mark.django_db


def test_the_receipt_is_issued_once_signed_and_verifiable(citizen, catalog, client):
    proc = without_file_field(catalog)
    filing = actions.file_directly(citizen, proc, answers_for(proc)).filing
    api = token_client(citizen)
    first = api.get(f"/api/v1/filings/{filing.number}/receipt.pdf").content
    second = api.get(f"/api/v1/filings/{filing.number}/receipt.pdf").content
    assert first == second
    document = IssuedDocument.objects.get(subject_id=filing.number, kind="receipt")
    assert check_pdf(first).status == "authentic"
    page = client.get(f"/verificar/{document.code}/").content.decode()
    assert filing.number in page
    assert citizen.last_name not in page and citizen.document_number not in page
    tampered = (
        first.replace(filing.access_code.encode(), b"XXXXXXXX")
        if filing.access_code.encode() in first
        else first[:-10] + b"0000000000"
    )
    assert check_pdf(tampered).status != "authentic"
