"""The casilla electrónica: notices deposited for a citizen, and alerts for officials.

A notice's deposit and reading are timestamped and audited; ``effective_on`` is the date
it takes legal effect under the agency's rule (TUO of Ley 27444, arts. 20.4 and 25).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Notice(models.Model):
    """A notification to a citizen about one expediente (observation, decision, silence...)."""

    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notices"
    )
    filing = models.ForeignKey("cases.Filing", on_delete=models.PROTECT, related_name="notices")
    agency = models.ForeignKey("catalog.Agency", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=40, help_text="the transition or event that caused it")
    title = models.CharField(max_length=200)
    body = models.TextField()
    document_code = models.CharField(
        max_length=20, blank=True, help_text="verification code of an attached document"
    )
    deposited_at = models.DateTimeField()
    effective_on = models.DateField(help_text="the day it takes effect")
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    texted_at = models.DateTimeField(null=True, blank=True)
    # Set for notices that must exist once per expediente (e.g. negative silence), so a
    # repeated sweep cannot deposit a second one.
    once_key = models.CharField(max_length=80, unique=True, null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["citizen", "read_at", "-deposited_at"], name="notice_inbox_idx")
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.citizen} ({self.filing_id})"


class OfficialAlert(models.Model):
    """A warning to the officials of a unit that a case is due soon or overdue (once each)."""

    unit = models.ForeignKey("catalog.OrgUnit", on_delete=models.CASCADE, related_name="alerts")
    filing = models.ForeignKey("cases.Filing", on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(
        max_length=20, choices=[("due_soon", "Por vencer"), ("overdue", "Vencido")]
    )
    created_at = models.DateTimeField()
    seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["filing", "kind"], name="unique_alert")]
        indexes = [models.Index(fields=["unit", "seen_at", "-created_at"], name="alert_unit_idx")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.filing_id}"


class OutgoingSms(models.Model):
    """One SMS to send, at most once, retried by the task system while the gateway may recover.

    ``once_key`` says what it is for (``notice:<id>``, ``consent:<uuid>``, ...) and is unique,
    so asking twice never sends twice. A row is claimed (``pending`` → ``sending``) by one
    conditional UPDATE before the gateway is called, so two workers never send the same one;
    a process that dies after the claim leaves it ``sending`` (at most once, never twice).
    Texts that carry a one-time code or link (``secret``) are wiped when the row is done.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Por enviar"
        SENDING = "sending", "Enviándose"
        SENT = "sent", "Enviado"
        FAILED = "failed", "Falló"
        EXPIRED = "expired", "Vencido sin enviar"

    once_key = models.CharField(max_length=120, unique=True)
    purpose = models.CharField(max_length=20)
    to = models.CharField(max_length=20)
    text = models.TextField()
    secret = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="a code or link that is useless after this is not sent"
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "-created_at"], name="sms_status_idx")]

    def __str__(self) -> str:
        return f"{self.once_key} ({self.status})"
