"""Drafts, uploaded documents and filed expedientes.

A :class:`Draft` holds a citizen's answers and documents until they file it; filing
turns it into a :class:`Filing` (expediente) with its number, receipt date and legal
deadline. Documents move from the draft to the filing, never uploaded twice.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tambo.catalog.models import Agency, ProcedureVersion


class FilingStatus(models.TextChoices):
    RECEIVED = "received", _("Recibido")
    IN_REVIEW = "in_review", _("En revisión de admisibilidad")
    OBSERVED = "observed", _("Observado: debe subsanar")
    IN_EVALUATION = "in_evaluation", _("En evaluación")
    APPROVED = "approved", _("Aprobado")
    DENIED = "denied", _("Denegado")
    WITHDRAWN = "withdrawn", _("Desistido")
    NOT_FILED = "not_filed", _("Considerado no presentado")
    CLOSED = "closed", _("Archivado")


class Draft(models.Model):
    """A citizen's unfinished application (borrador); kept until filed or discarded."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drafts"
    )
    procedure_version = models.ForeignKey(
        ProcedureVersion, on_delete=models.PROTECT, related_name="+"
    )
    answers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["citizen", "-updated_at"], name="draft_citizen_idx")]

    def __str__(self) -> str:
        return f"draft {self.pk} ({self.procedure_version})"


def document_path(instance: Document, filename: str) -> str:
    return f"documents/{instance.uploaded_at:%Y/%m}/{instance.pk}"


class Document(models.Model):
    """An uploaded file, checked by content, kept with its SHA-256."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    draft = models.ForeignKey(
        Draft, null=True, blank=True, on_delete=models.SET_NULL, related_name="documents"
    )
    filing = models.ForeignKey(
        "Filing", null=True, blank=True, on_delete=models.PROTECT, related_name="documents"
    )
    field_name = models.CharField(max_length=40)
    file = models.FileField(upload_to=document_path, max_length=200)
    original_name = models.CharField(max_length=200)
    media_type = models.CharField(max_length=40)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["uploaded_at"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.sha256[:12]})"


class Filing(models.Model):
    """An expediente: a procedure filed by a citizen, with its legal dates."""

    number = models.CharField(max_length=40, unique=True)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="filings")
    procedure_version = models.ForeignKey(
        ProcedureVersion, on_delete=models.PROTECT, related_name="filings"
    )
    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="filings"
    )
    draft = models.OneToOneField(
        Draft, null=True, blank=True, on_delete=models.SET_NULL, related_name="filing"
    )
    # NULL, not "", so that filings without a key do not collide in the unique constraint.
    idempotency_key = models.CharField(max_length=80, null=True, blank=True)  # noqa: DJ001
    channel = models.CharField(max_length=10, default="web")
    answers = models.JSONField(default=dict)
    submitted_at = models.DateTimeField()
    received_on = models.DateField(
        help_text="legal date of receipt (next business day if filed after hours)"
    )
    term_starts_on = models.DateField()
    due_on = models.DateField()
    fee = models.DecimalField(max_digits=10, decimal_places=2)
    status = models.CharField(
        max_length=20, choices=FilingStatus.choices, default=FilingStatus.RECEIVED
    )
    access_code = models.CharField(max_length=12)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["citizen", "idempotency_key"], name="unique_idempotency_key"
            ),
        ]
        indexes = [
            models.Index(fields=["citizen", "-submitted_at"], name="filing_citizen_idx"),
            models.Index(fields=["agency", "status", "due_on"], name="filing_queue_idx"),
        ]

    def __str__(self) -> str:
        return self.number


class FilingCounter(models.Model):
    """The last filing number issued by an agency in a year (numbers are gapless)."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agency", "year"], name="unique_counter")]

    def __str__(self) -> str:
        return f"{self.agency_id}/{self.year}: {self.last}"
