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
