"""Agencies (entidades) and their procedures as published in their TUPA.

A procedure's content lives in versioned, immutable :class:`ProcedureVersion` rows
loaded from reviewed YAML files; filed cases point at the version they were filed
under. :class:`Procedure` carries the current version's searchable summary.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import models

if TYPE_CHECKING:
    from .schema import ProcedureFile


# Parsed procedure files by version id: versions are immutable once published, so a
# process may keep them; this saves re-validating the whole file on every request.
_PARSED_FILES: dict[tuple[int, str], ProcedureFile] = {}


class AgencyType(models.TextChoices):
    MUNICIPALITY = "municipality", "Municipalidad"
    MINISTRY = "ministry", "Ministerio"
    REGULATOR = "regulator", "Organismo regulador"
    REGISTRY = "registry", "Registro"
    OTHER = "other", "Otra entidad"


class Agency(models.Model):
    """An entidad pública that publishes procedures and receives filings."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=20, choices=AgencyType.choices)
    ruc = models.CharField(max_length=11)
    ubigeo = models.CharField(max_length=6)
    address = models.CharField(max_length=200, blank=True)
    website = models.URLField(blank=True)
    opening_hours = models.CharField(max_length=200)
    filing_cutoff = models.TimeField(null=True, blank=True)
    notice_ack_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="business days after which an unread casilla notice counts as received; "
        "empty: it takes effect on the day it is deposited (TUO art. 20.4, 25)",
    )
    due_soon_percent = models.PositiveSmallIntegerField(
        default=80, help_text="share of the term after which a case shows as due soon"
    )
    search_text = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return self.name


class OrgUnit(models.Model):
    """An organisational unit of an agency (mesa de partes, gerencia, oficina...)."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="units")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=200)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agency", "code"], name="unique_unit_code")]
        ordering = ["agency", "code"]

    def __str__(self) -> str:
        return f"{self.agency.code}/{self.code} {self.name}"


class AgencyClosure(models.Model):
    """A day the agency does not work, beyond national holidays (terms do not run)."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="closures")
    date = models.DateField()
    reason = models.CharField(max_length=200)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agency", "date"], name="unique_closure")]
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.agency.code} {self.date} {self.reason}"


class Topic(models.Model):
    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApprovalRule(models.TextChoices):
    AUTOMATIC = "automatic", "Aprobación automática"
    POSITIVE_SILENCE = "positive_silence", "Evaluación previa con silencio positivo"
    NEGATIVE_SILENCE = "negative_silence", "Evaluación previa con silencio negativo"


class Procedure(models.Model):
    """A procedure of an agency's TUPA; its content is in its current version."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="procedures")
    code = models.CharField(max_length=32)
    unit = models.ForeignKey(
        OrgUnit,
        on_delete=models.PROTECT,
        related_name="procedures",
        help_text="the org unit that handles its expedientes",
    )
    current_version = models.OneToOneField(
        "ProcedureVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    topics = models.ManyToManyField(Topic, related_name="procedures", blank=True)
    name = models.CharField(max_length=300)
    search_text = models.TextField(blank=True, editable=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "code"], name="unique_procedure_code")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.agency.code}/{self.code} {self.name}"


class ProcedureVersion(models.Model):
    """One immutable published version of a procedure file."""

    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    spec = models.JSONField()
    source_path = models.CharField(max_length=300)
    published_at = models.DateTimeField()
    approval = models.CharField(max_length=20, choices=ApprovalRule.choices)
    term_days = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["procedure", "number"], name="unique_version_number")
        ]
        ordering = ["procedure", "-number"]

    def __str__(self) -> str:
        return f"{self.procedure.code} v{self.number}"

    @property
    def file(self) -> ProcedureFile:
        """The validated procedure file, parsed once per process.

        Keyed by id *and* content hash: a version never changes, but an id can come back
        after a rolled-back load (SQLite reuses it), and then it must not find the old file.
        """
        key = (self.pk, self.content_hash)
        cached = _PARSED_FILES.get(key) if self.pk else None
        if cached is None:
            from .schema import ProcedureFile

            cached = ProcedureFile.model_validate(self.spec)
            if self.pk:
                if len(_PARSED_FILES) > 4096:
                    _PARSED_FILES.clear()
                _PARSED_FILES[key] = cached
        return cached

    @property
    def workflow(self):  # type: ignore[no-untyped-def]
        """The procedure's own workflow, or the default TUPA workflow."""
        from .workflow import default_workflow

        return self.file.workflow or default_workflow()

    def fee_amount(self, year: int) -> Decimal:
        """The fee in soles for a filing in ``year`` (UIT shares use that year's UIT)."""
        from .fees import fee_for

        return fee_for(self.file.fee, year)
