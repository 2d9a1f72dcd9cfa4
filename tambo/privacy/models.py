"""Personal data: who read a citizen's data (access log), consents and correction requests.

Ley 29733 (Protección de Datos Personales) and its regulation DS 016-2024-JUS give the
citizen the right to know who processed their data, to get a copy of it and to ask for
its correction. The access log is written by every official view, so it is one cheap
INSERT; the citizen reads it by key (citizen, at, id), never by OFFSET.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class DataCategory(models.TextChoices):
    FILING = "filing", _("Expediente (datos del formulario)")
    DOCUMENT = "document", _("Documento")
    RECEIPT = "receipt", _("Cargo de recepción")
    ISSUED = "issued_document", _("Documento emitido")
    PERSONAL = "personal_data", _("Datos personales")


class AccessEntry(models.Model):
    """One reading of a citizen's data by someone else (an official, another agency).

    ``withheld_until``: the expediente was under legal reserve when it was read; the
    citizen sees the entry the day after this date. Oversight always sees it.
    """

    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    at = models.DateTimeField()
    accessor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    accessor_label = models.CharField(max_length=150)
    agency_code = models.CharField(max_length=20)
    agency_name = models.CharField(max_length=200)
    category = models.CharField(max_length=20, choices=DataCategory.choices)
    detail = models.CharField(max_length=200, blank=True, help_text="e.g. the document's name")
    filing_number = models.CharField(max_length=40, blank=True)
    purpose = models.CharField(max_length=200)
    legal_basis = models.CharField(max_length=200, blank=True)
    withheld_until = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name = _("acceso a datos personales")
        verbose_name_plural = _("accesos a datos personales")
        indexes = [
            models.Index(fields=["citizen", "-at", "-id"], name="access_citizen_idx"),
            models.Index(
                fields=["filing_number"],
                name="access_filing_idx",
                condition=~models.Q(filing_number=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.accessor_label} → {self.citizen_id} ({self.category})"


class Consent(models.Model):
    """The consent a citizen gave when filing: the exact text shown, its hash and the time."""

    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    filing = models.OneToOneField(
        "cases.Filing", on_delete=models.CASCADE, related_name="data_consent"
    )
    text = models.TextField()
    text_sha256 = models.CharField(max_length=64)
    given_at = models.DateTimeField()

    class Meta:
        verbose_name = _("consentimiento")
        verbose_name_plural = _("consentimientos")

    def __str__(self) -> str:
        return f"{self.filing_id} {self.text_sha256[:12]}"


class CorrectionStatus(models.TextChoices):
    PENDING = "pending", _("Pendiente")
    DONE = "done", _("Corregido")
    REJECTED = "rejected", _("Denegado")


class CorrectionRequest(models.Model):
    """A citizen says some data Tambo holds about them is wrong (derecho de rectificación)."""

    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="correction_requests"
    )
    filing_number = models.CharField(max_length=40, blank=True)
    text = models.TextField(max_length=4000)
    status = models.CharField(
        max_length=10, choices=CorrectionStatus.choices, default=CorrectionStatus.PENDING
    )
    response = models.TextField(blank=True)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("solicitud de rectificación")
        verbose_name_plural = _("solicitudes de rectificación")
        indexes = [models.Index(fields=["citizen", "-created_at"], name="correction_citizen_idx")]

    def __str__(self) -> str:
        return f"{self.citizen_id} {self.created_at:%Y-%m-%d} ({self.status})"
