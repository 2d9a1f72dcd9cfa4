"""The register of issued documents: every signed PDF an agency issues, with its public data.

A row is written in the same transaction as the act that issues the document (a receipt,
a resolution...). ``public_fields`` holds only what anyone with the verification code may
see (never names or identity numbers); the file itself is never shown publicly.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tambo.catalog.models import Agency


class DocumentKind(models.TextChoices):
    RECEIPT = "receipt", _("Cargo de recepción")
    RESOLUTION = "resolution", _("Resolución")
    SILENCE_CERTIFICATE = "silence_certificate", _("Constancia de silencio administrativo")
    EVIDENCE_CERTIFICATE = "evidence_certificate", _("Constancia de documentos obtenidos")
    OTHER = "other", _("Otro documento")


def issued_path(instance: IssuedDocument, filename: str) -> str:
    return f"documents/issued/{instance.issued_at:%Y/%m}/{instance.code}.pdf"


class IssuedDocument(models.Model):
    """A signed PDF issued by an agency, found by its verification code or its SHA-256."""

    code = models.CharField(max_length=12, unique=True)
    kind = models.CharField(max_length=30, choices=DocumentKind.choices)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="issued_documents")
    # What the document is about, e.g. ("filing", "MDSI-2026-0000001"); not a foreign key,
    # so that any app can issue documents without this one depending on it.
    subject_type = models.CharField(max_length=40)
    subject_id = models.CharField(max_length=80)
    title = models.CharField(max_length=200)
    issued_at = models.DateTimeField()
    file = models.FileField(upload_to=issued_path, max_length=200)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.PositiveBigIntegerField()
    public_fields = models.JSONField(default=dict, blank=True)
    signer_certificate_sha256 = models.CharField(max_length=64, db_index=True)

    class Meta:
        ordering = ["-issued_at"]
        indexes = [
            models.Index(fields=["subject_type", "subject_id"], name="issued_document_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"
