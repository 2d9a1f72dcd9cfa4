"""The schema of catalogue files: one YAML file per agency and one per procedure (TUPA entry).

Texts a citizen reads may be a plain string (Spanish) or a mapping of language code
to text (``{es: ..., qu: ..., en: ...}``); Spanish is required.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .schema_base import CODE_RE, LANGS, NAME_RE, Strict, Text, _check_text  # noqa: F401
from .workflow import Workflow


class OrgUnit(Strict):
    code: str = Field(pattern=CODE_RE)
    name: str = Field(min_length=2)


class NonWorkingDay(Strict):
    date: dt.date
    reason: str = Field(min_length=2)


class AgencyFile(Strict):
    kind: Literal["agency"]
    code: str = Field(pattern=CODE_RE, description="short code used in filing numbers")
    name: str = Field(min_length=3)
    type: Literal["municipality", "ministry", "regulator", "registry", "other"]
    ruc: str
    ubigeo: str = Field(pattern=r"^\d{6}$")
    address: str = ""
    website: str = ""
    opening_hours: str = Field(min_length=3, description="e.g. 'lunes a viernes, 08:30-16:30'")
    filing_cutoff: dt.time | None = Field(
        None,
        description="office-hours cut-off; absent means filings count the same day up to 23:59",
    )
    notice_ack_days: int | None = Field(
        None,
        ge=1,
        le=30,
        description="business days after which an unread casilla notice counts as received; "
        "absent: it takes effect on the day it is deposited",
    )
    due_soon_percent: int = Field(80, ge=10, le=99)
    non_working_days: list[NonWorkingDay] = []
    org_units: list[OrgUnit] = Field(min_length=1)

    @field_validator("ruc")
    @classmethod
    def _ruc(cls, value: str) -> str:
        from stdnum.pe import ruc

        if not ruc.is_valid(value):
            raise ValueError(f"{value!r} is not a valid RUC (11 digits with a correct check digit)")
        return ruc.compact(value)


FieldType = Literal[
    "text",
    "long_text",
    "number",
    "date",
    "choice",
    "yes_no",
    "dni",
    "ruc",
    "ce",
    "ubigeo",
    "email",
    "phone",
    "address",
    "file",
]
FILE_TYPES = ("pdf", "jpeg", "png")


class Choice(Strict):
    value: str = Field(pattern=r"^[a-z0-9_-]{1,40}$")
    label: Text


class FormField(Strict):
    name: str = Field(pattern=NAME_RE)
    type: FieldType
    label: Text
    help: Text | None = None
    required: bool = True
    choices: list[Choice] | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    max_length: int | None = Field(None, ge=1, le=20000)
    accept: list[Literal["pdf", "jpeg", "png"]] | None = None
    max_mb: Decimal | None = Field(None, gt=0, le=50)

    @model_validator(mode="after")
    def _consistent(self) -> FormField:
        if self.type == "choice" and not self.choices:
            raise ValueError(f"field '{self.name}': a choice field needs 'choices'")
        if self.type != "choice" and self.choices:
            raise ValueError(f"field '{self.name}': only choice fields take 'choices'")
        if self.type != "file" and (self.accept or self.max_mb):
            raise ValueError(f"field '{self.name}': 'accept' and 'max_mb' are for file fields")
        if self.type != "number" and (self.min is not None or self.max is not None):
            raise ValueError(f"field '{self.name}': 'min' and 'max' are for number fields")
        if self.type == "choice" and self.choices:
            values = [c.value for c in self.choices]
            if len(set(values)) != len(values):
                raise ValueError(f"field '{self.name}': repeated choice values")
        return self

    @property
    def accepted_types(self) -> tuple[str, ...]:
        return tuple(self.accept or FILE_TYPES)


QUERY_SOURCE_RE = r"^(citizen\.(document_type|document_number)|answers\.[a-z][a-z0-9_]{0,39})$"


class ObtainedFrom(Strict):
    """The requirement is obtained from another agency's data service (TUO Ley 27444, art. 48).

    ``query`` maps each parameter of the service's query to where its value comes from:
    the citizen's identity document (``citizen.document_type``, ``citizen.document_number``)
    or another answer of the form (``answers.<field>``).
    """

    service: str = Field(min_length=1, max_length=80)
    version: str = Field(min_length=1, max_length=20)
    query: dict[str, str] = Field(min_length=1)

    @field_validator("query")
    @classmethod
    def _sources(cls, value: dict[str, str]) -> dict[str, str]:
        for key, source in value.items():
            if not re.fullmatch(QUERY_SOURCE_RE, source):
                raise ValueError(
                    f"query.{key}: {source!r} must be citizen.document_type, "
                    "citizen.document_number or answers.<field>"
                )
        return value


class Requirement(Strict):
    id: str = Field(pattern=NAME_RE)
    name: Text
    kind: Literal["document", "data", "payment"]
    field: str | None = Field(None, description="the form field that satisfies it")
    note: Text | None = None
    obtained_from: ObtainedFrom | None = Field(
        None,
        description="fetched from this service at filing; 'field' (an optional file field) "
        "is then only the upload the citizen may send instead",
    )


class Fee(Strict):
    kind: Literal["free", "fixed", "uit_percent"]
    amount: Decimal | None = Field(None, ge=0, description="soles, for kind fixed")
    percent: Decimal | None = Field(None, gt=0, le=100, description="% of the UIT")
    note: Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Fee:
        if self.kind == "fixed" and self.amount is None:
            raise ValueError("a fixed fee needs 'amount' in soles")
        if self.kind == "uit_percent" and self.percent is None:
            raise ValueError("a fee as a share of the UIT needs 'percent'")
        if self.kind == "free" and (self.amount or self.percent):
            raise ValueError("a free procedure takes no 'amount' or 'percent'")
        return self


class ProcedureFile(Strict):
    kind: Literal["procedure"]
    code: str = Field(pattern=CODE_RE)
    agency: str = Field(pattern=CODE_RE)
    unit: str = Field(pattern=CODE_RE, description="org unit that handles it")
    name: Text
    summary: Text
    audience: Text
    topics: list[str] = Field(min_length=1)
    legal_basis: list[str] = Field(min_length=1)
    fee: Fee
    term_days: int = Field(ge=0, le=365, description="maximum term in business days")
    approval: Literal["automatic", "positive_silence", "negative_silence"]
    observation_days: int = Field(2, ge=1, le=30)
    channels: list[Literal["online", "in_person", "mail"]] = Field(min_length=1)
    steps: list[Text] = Field(min_length=1)
    requirements: list[Requirement] = Field(min_length=1)
    form: list[FormField] = Field(min_length=1)
    notes: Text | None = None
    retention_years: int = Field(
        10,
        ge=1,
        le=100,
        description="years the expediente's documents are kept after it concludes "
        "(then `tambo retention` removes them; the audit log is kept). Default 10.",
    )
    draft_retention_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="days an unfiled draft (borrador) is kept after its last change; then "
        "`tambo retention` deletes it with its uploaded files. Default 90.",
    )
    consent: Text | None = Field(
        None,
        description="consent to the processing of personal data the citizen must accept to file "
        "(Ley 29733, art. 5); stored with the expediente, with its time",
    )
    workflow: Workflow | None = Field(None, description="absent: the default TUPA workflow")
    review_pending: list[Literal["qu", "en"]] = Field(
        [],
        description="languages whose texts in this file are machine-made and wait for a native "
        "speaker's review; the loader warns until the language is taken off this list",
    )

    @field_validator("topics")
    @classmethod
    def _topics(cls, value: list[str]) -> list[str]:
        for topic in value:
            if not re.fullmatch(r"[a-z][a-z0-9-]{1,39}", topic):
                raise ValueError(f"topic {topic!r} must be a lowercase slug")
        return value

    def texts_in(self, lang: str) -> int:
        """How many of this file's translatable texts have a version in ``lang``."""

        def count(node: object) -> int:
            if isinstance(node, dict):
                if "es" in node and set(node) <= set(LANGS):
                    return int(bool(node.get(lang)))
                return sum(count(v) for v in node.values())
            if isinstance(node, list):
                return sum(count(v) for v in node)
            return 0

        return count(self.model_dump(mode="json", exclude_none=True, by_alias=True))

    @model_validator(mode="after")
    def _consistent(self) -> ProcedureFile:
        for lang in self.review_pending:
            if not self.texts_in(lang):
                raise ValueError(f"review_pending: no text of this file has a '{lang}' version")
        # Messages start with the path of the offending item ("form.3: ..."), so that the
        # loader can point at its line; a whole-model check has no location of its own.
        names = [f.name for f in self.form]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ValueError(f"form.{index}.name: field name '{name}' is repeated")
        ids = [r.id for r in self.requirements]
        for index, req_id in enumerate(ids):
            if req_id in ids[:index]:
                raise ValueError(f"requirements.{index}.id: requirement id '{req_id}' is repeated")
        file_fields = {f.name for f in self.form if f.type == "file"}
        for index, req in enumerate(self.requirements):
            if req.field is not None and req.field not in names:
                raise ValueError(
                    f"requirements.{index}.field: requirement '{req.id}' names unknown form field "
                    f"'{req.field}'"
                )
            if req.obtained_from is not None:
                self._check_obtained(index, req, names)
            elif req.kind == "document" and req.field not in file_fields:
                raise ValueError(
                    f"requirements.{index}.field: document requirement '{req.id}' must name a "
                    "form field of type file"
                )
        return self

    def _check_obtained(self, index: int, req: Requirement, names: list[str]) -> None:
        """The service must exist and grant this agency access for this procedure."""
        from tambo.exchange.registry import registry

        source = req.obtained_from
        assert source is not None
        if req.field is not None:
            fallback = self.field(req.field)
            if fallback.type != "file" or fallback.required:
                raise ValueError(
                    f"requirements.{index}.field: the upload instead of an obtained requirement "
                    "must be an optional (required: false) file field"
                )
        for key, origin in source.query.items():
            if origin.startswith("answers.") and origin.removeprefix("answers.") not in names:
                raise ValueError(
                    f"requirements.{index}.obtained_from.query.{key}: unknown form field "
                    f"'{origin.removeprefix('answers.')}'"
                )
        service = registry().service(source.service, source.version)
        if service is None:
            raise ValueError(
                f"requirements.{index}.obtained_from.service: service "
                f"'{source.service}/{source.version}' is not in the exchange registry"
            )
        if service.allows(self.agency, self.code) is None:
            raise ValueError(
                f"requirements.{index}.obtained_from.service: the registry gives {self.agency} "
                f"no access to '{source.service}/{source.version}' for {self.code}"
            )

    def obtained_requirements(self) -> list[Requirement]:
        return [r for r in self.requirements if r.obtained_from is not None]

    def fallback_fields(self) -> set[str]:
        """File fields that are only the upload instead of obtained data: not on the form."""
        return {r.field for r in self.obtained_requirements() if r.field}

    def field(self, name: str) -> FormField:
        return next(f for f in self.form if f.name == name)
