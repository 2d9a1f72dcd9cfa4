"""What each node keeps of its exchanges: the message log and the nonces already used."""

from __future__ import annotations

from django.db import models


class Direction(models.TextChoices):
    OUT = "out", "Solicitud enviada"
    IN = "in", "Solicitud atendida"


class ExchangeLog(models.Model):
    """One exchange as this node saw it, with the signed request and answer (X-Road's
    message log). Both sides keep their own; each entry also goes into the audit chain."""

    request_id = models.CharField(max_length=64)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    at = models.DateTimeField()
    consumer = models.CharField(max_length=20)
    provider = models.CharField(max_length=20)
    service = models.CharField(max_length=60)
    version = models.CharField(max_length=20)
    filing_number = models.CharField(max_length=40, blank=True)
    procedure = models.CharField(max_length=60, blank=True)
    legal_basis = models.CharField(max_length=300, blank=True)
    subject_document = models.CharField(
        max_length=20, blank=True, help_text="document type:number of the citizen concerned"
    )
    outcome = models.CharField(max_length=40, help_text="ok, or the error code")
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.FloatField(default=0)
    request_headers = models.JSONField(default=dict)
    request_body = models.TextField(blank=True)
    answer_headers = models.JSONField(default=dict)
    answer_body = models.TextField(blank=True)

    class Meta:
        # Not unique: a replayed request reuses its id, and its refusal is logged too.
        indexes = [
            models.Index(fields=["request_id"], name="exchange_request_idx"),
            models.Index(fields=["subject_document", "-at"], name="exchange_subject_idx"),
            models.Index(fields=["filing_number"], name="exchange_filing_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.consumer} → {self.provider} {self.service} ({self.outcome})"


class SeenNonce(models.Model):
    """A signature nonce already accepted: the same signed request is never served twice."""

    key_id = models.CharField(max_length=80)
    nonce = models.CharField(max_length=80)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key_id", "nonce"], name="unique_nonce")]

    def __str__(self) -> str:
        return f"{self.key_id}/{self.nonce}"
