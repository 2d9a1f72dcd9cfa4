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

from tambo.catalog.models import Agency, OrgUnit, ProcedureVersion

# Filing.answers after the retention period: only this key, saying when and under which
# period the answers (the citizen's personal data) were removed (tambo/privacy/retention.py).
ANSWERS_REMOVED_KEY = "_retention"


def answers_removed(answers: object) -> bool:
    """Whether these answers were removed at the end of the retention period."""
    return isinstance(answers, dict) and ANSWERS_REMOVED_KEY in answers


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
    # Assisted filing: the intermediary filling it in for the citizen, under their consent.
    assisted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    consent = models.ForeignKey(
        "AssistedConsent", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

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
    """An expediente: a procedure filed by a citizen, with its legal dates and workflow state.

    ``status`` is a state of the procedure version's workflow. The legal term runs while
    ``term_running``; an observation suspends it (``suspended_since``) and its resumption
    moves ``due_on`` and ``silence_on`` by the business days it was suspended.
    """

    # Unique through Meta.constraints: a plain unique index, without the extra LIKE index
    # Django adds for ``unique=True`` text fields (numbers are looked up whole).
    number = models.CharField(max_length=40)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="filings")
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="filings")
    procedure_version = models.ForeignKey(
        ProcedureVersion, on_delete=models.PROTECT, related_name="filings"
    )
    # No index of its own: filing_citizen_idx and unique_idempotency_key lead with citizen.
    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="filings", db_index=False
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
    due_on = models.DateField(help_text="last business day of the legal term")
    due_soon_on = models.DateField(help_text="from this day the case shows as due soon")
    silence_on = models.DateField(
        null=True,
        blank=True,
        help_text="first day on which positive silence applies (term + 5 business days, art. 199.1)",
    )
    fee = models.DecimalField(max_digits=10, decimal_places=2)
    status = models.CharField(max_length=40, default="received")
    handled_by = models.CharField(
        max_length=20, blank=True, help_text="the role whose queue the case is in (from its state)"
    )
    is_open = models.BooleanField(default=True)
    term_running = models.BooleanField(default=True)
    suspended_since = models.DateField(null=True, blank=True)
    correction_due_on = models.DateField(null=True, blank=True)
    appeal_due_on = models.DateField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_filings",
    )
    warned_due_soon_at = models.DateTimeField(null=True, blank=True)
    warned_overdue_at = models.DateTimeField(null=True, blank=True)
    negative_silence_noticed_at = models.DateTimeField(null=True, blank=True)
    pending_document = models.CharField(
        max_length=30,
        blank=True,
        help_text="a document the sweep decided and a worker still has to sign (e.g. silence_certificate)",
    )
    access_code = models.CharField(max_length=12)
    reserved_until = models.DateField(
        null=True,
        blank=True,
        help_text="legal reserve: who read the case is withheld from the citizen through this day",
    )
    retention_applied_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="when the retention period ended and the uploaded documents were removed",
    )
    lock_version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()
    # Assisted filing: who filed it for the citizen, and the consent that allowed it. No plain
    # FK indexes (every filing would write them): filing_filed_by_idx is partial.
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assisted_filings",
        db_index=False,
    )
    consent = models.ForeignKey(
        "AssistedConsent",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="filings",
        db_index=False,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["number"], name="unique_filing_number"),
            models.UniqueConstraint(
                fields=["citizen", "idempotency_key"], name="unique_idempotency_key"
            ),
        ]
        indexes = [
            models.Index(fields=["citizen", "-submitted_at"], name="filing_citizen_idx"),
            models.Index(
                fields=["filed_by", "-submitted_at"],
                name="filing_filed_by_idx",
                condition=models.Q(filed_by__isnull=False),
            ),
            models.Index(
                fields=["unit", "due_on", "id"],
                name="filing_unit_queue_idx",
                condition=models.Q(is_open=True),
            ),
            models.Index(
                fields=["unit", "handled_by", "due_on", "id"],
                name="filing_role_queue_idx",
                condition=models.Q(is_open=True),
            ),
            models.Index(
                fields=["agency", "handled_by", "due_on", "id"],
                name="filing_desk_queue_idx",
                condition=models.Q(is_open=True),
            ),
            models.Index(
                fields=["due_on"],
                name="filing_running_due_idx",
                condition=models.Q(is_open=True, term_running=True),
            ),
            models.Index(
                fields=["correction_due_on"],
                name="filing_correction_idx",
                condition=models.Q(is_open=True, correction_due_on__isnull=False),
            ),
            models.Index(
                fields=["silence_on"],
                name="filing_silence_idx",
                condition=models.Q(is_open=True, term_running=True),
            ),
            models.Index(
                fields=["due_soon_on"],
                name="filing_due_soon_idx",
                condition=models.Q(
                    is_open=True, term_running=True, warned_due_soon_at__isnull=True
                ),
            ),
            models.Index(
                fields=["id"],
                name="filing_pending_document_idx",
                condition=~models.Q(pending_document=""),
            ),
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


def consent_scan_path(instance: AssistedConsent, filename: str) -> str:
    return f"consents/{instance.created_at:%Y/%m}/{instance.pk}"


class AssistedConsent(models.Model):
    """A citizen's consent that an intermediary files one procedure for them (Ley 27444, art. 126).

    Given either by a one-time code sent to the citizen's own phone or e-mail on file (only
    its HMAC is kept; it expires and allows few attempts) or by a signed paper form, scanned.
    """

    class Method(models.TextChoices):
        SMS = "sms", "SMS"
        EMAIL = "email", "Correo electrónico"
        PAPER = "paper", "Formulario firmado en papel"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consents_given"
    )
    intermediary = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consents_received"
    )
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+")
    procedure = models.ForeignKey("catalog.Procedure", on_delete=models.PROTECT, related_name="+")
    method = models.CharField(max_length=10, choices=Method.choices)
    code_hash = models.CharField(max_length=64, blank=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    scan = models.FileField(upload_to=consent_scan_path, max_length=200, blank=True)
    scan_sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    granted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["intermediary", "-created_at"], name="consent_intermediary_idx")
        ]

    def __str__(self) -> str:
        return f"consent {self.pk} ({self.method})"


class ObtainedEvidence(models.Model):
    """A requirement the citizen did not bring: fetched from another agency after filing.

    Created pending with the filing (no network inside the filing's transaction); the
    background task fills it in, retries with backoff while the provider does not answer,
    and marks it failed on a refusal or after the last attempt. An upload by the citizen
    instead closes it as ``uploaded``. Obtained rows are the once-only figure.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pendiente")
        OBTAINED = "obtained", _("Obtenido")
        FAILED = "failed", _("No se pudo obtener")
        UPLOADED = "uploaded", _("Subido por el ciudadano")

    filing = models.ForeignKey(Filing, on_delete=models.PROTECT, related_name="evidence")
    requirement = models.CharField(max_length=40)
    service = models.CharField(max_length=80)
    version = models.CharField(max_length=20)
    provider = models.CharField(max_length=20)
    query = models.JSONField(default=dict)
    legal_basis = models.CharField(max_length=300, help_text="the access rule's, at filing")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    obtained_at = models.DateTimeField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    # The attempt in flight: set (with ``request_id``) before the network call, so a second
    # task for the same row (a re-queued one) does not fetch it again while it is fresh.
    claimed_at = models.DateTimeField(null=True, blank=True)
    # When a signed constancia listing this row was issued (obtained rows only).
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["filing", "requirement"], name="evidence_once")
        ]
        indexes = [
            models.Index(fields=["status", "obtained_at"], name="evidence_status_at"),
            # The sweep's look-ups: pending rows past their next attempt, obtained rows that
            # no constancia lists yet. Both sets stay small.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="evidence_pending_due",
            ),
            models.Index(
                fields=["obtained_at"],
                condition=models.Q(status="obtained", reported_at__isnull=True),
                name="evidence_unreported",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.filing_id} {self.requirement} ({self.status})"


def enrolment_scan_path(instance: AccountEnrolment, filename: str) -> str:
    return f"enrolments/{instance.created_at:%Y/%m}/{instance.pk}"


class AccountEnrolment(models.Model):
    """An account an intermediary creates at a service centre for a person who is present.

    The person's consent is given as for assisted filing: a one-time code sent to the phone or
    e-mail they give (only its HMAC is kept), or a signed paper form, scanned. Once given, the
    account is created without a password; the person sets their own with a one-time
    activation link sent to that phone or e-mail (only its SHA-256 is kept).
    """

    class Method(models.TextChoices):
        SMS = "sms", "SMS"
        EMAIL = "email", "Correo electrónico"
        PAPER = "paper", "Formulario firmado en papel"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    intermediary = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="enrolments_made"
    )
    unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+")
    document_type = models.CharField(max_length=3)
    document_number = models.CharField(max_length=12)
    first_name = models.CharField(max_length=150)
    last_name = models.CharField(max_length=150)
    phone = models.CharField(max_length=20, blank=True)
    email = models.EmailField(blank=True)
    method = models.CharField(max_length=10, choices=Method.choices)
    code_hash = models.CharField(max_length=64, blank=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    scan = models.FileField(upload_to=enrolment_scan_path, max_length=200, blank=True)
    scan_sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    citizen = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="enrolment",
    )
    account_created_at = models.DateTimeField(null=True, blank=True)
    activation_hash = models.CharField(max_length=64, blank=True, db_index=True)
    activation_expires_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["intermediary", "-created_at"], name="enrolment_intermediary_idx")
        ]

    def __str__(self) -> str:
        return f"enrolment {self.pk} ({self.method})"
