"""People who use Tambo: citizens (by their identity document) and officials."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.crypto import salted_hmac


class DocumentType(models.TextChoices):
    DNI = "dni", "DNI"
    CE = "ce", "Carné de extranjería"
    RUC = "ruc", "RUC"


class User(AbstractUser):
    """A person with an account. Citizens are identified by their identity document."""

    document_type = models.CharField(max_length=3, choices=DocumentType.choices, blank=True)
    document_number = models.CharField(max_length=12, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    # The language the person chose with the switch ("" until they choose: pages then follow
    # the browser, and notices use the default, Spanish). See identity/language.py.
    language = models.CharField(max_length=5, blank=True, default="")
    # Notices also go by SMS to ``phone`` when the user has no e-mail, or when they ask.
    sms_notices = models.BooleanField(default=False)
    # Bumped on logout and when the account is disabled: every session signed with the old
    # value stops being accepted, on every device (see ``_get_session_auth_hash``).
    session_generation = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["document_type", "document_number"],
                condition=~models.Q(document_number=""),
                name="unique_identity_document",
            )
        ]

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        """Django's session hash (password-based) with the session generation mixed in.

        Django checks this hash on every request; changing the generation therefore ends
        all of the user's sessions at once, including the fallback-secret check.
        """
        return salted_hmac(
            "tambo.identity.User.session_auth_hash",
            f"{self.password}\x00{self.session_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()


class ApiToken(models.Model):
    """A personal API token (Bearer). Only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def issue(cls, user: User, name: str) -> tuple[ApiToken, str]:
        """Create a token; the raw value is returned once and never stored."""
        raw = "tmb_" + secrets.token_urlsafe(32)
        return cls.objects.create(user=user, name=name, token_hash=cls.hash(raw)), raw


class Role(models.TextChoices):
    FRONT_DESK = "front_desk", "Mesa de partes"
    EVALUATOR = "evaluator", "Evaluador"
    SIGNER = "signer", "Firmante"
    SUPERVISOR = "supervisor", "Supervisor"
    # At a service centre (a Tambo, a municipal front desk): files for citizens who are
    # present, with their consent; sees only what they filed (see policy.py).
    INTERMEDIARY = "intermediary", "Intermediario"


class Appointment(models.Model):
    """An official holds a role in an org unit of an agency (one row per unit and role)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="appointments")
    unit = models.ForeignKey(
        "catalog.OrgUnit", on_delete=models.CASCADE, related_name="appointments"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "unit", "role"], name="unique_appointment")
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} @ {self.unit}"


class LoginThrottle(models.Model):
    """Failed password logins per account name, kept in the database (shared by all processes).

    Keyed by the normalised name typed in the login form, not by the user row, so that
    unknown names are counted and locked exactly like real accounts and the lock does not
    reveal whether an account exists.
    """

    key = models.CharField(max_length=150, unique=True)
    failures = models.PositiveIntegerField(default=0)
    first_failure_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.key


class Delegation(models.Model):
    """An official lends a role they hold in an org unit to another official for a period.

    A supervisor may delegate any role of their unit (evaluator, signer, supervisor); a signer
    may delegate signing. The policy grants the role only from ``starts_on`` to ``ends_on``
    (Lima dates, both included) and never after ``revoked_at``: a delegation is never edited,
    only granted and revoked, so the audit log tells who could act when.
    """

    delegator = models.ForeignKey(User, on_delete=models.PROTECT, related_name="delegations_given")
    delegate = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="delegations_received"
    )
    unit = models.ForeignKey("catalog.OrgUnit", on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=20, choices=Role.choices)
    starts_on = models.DateField()
    ends_on = models.DateField()
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["delegate", "ends_on"], name="delegation_delegate_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="delegation_period_ordered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.delegator} → {self.delegate}: {self.role} @ {self.unit} ({self.starts_on}–{self.ends_on})"
