"""Turn a procedure version into what a page or API response shows, in the user's language."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from tambo.core import clock

from .fees import UnknownUIT
from .models import Procedure
from .schema import FormField
from .texts import localize


@dataclass(frozen=True)
class FieldView:
    name: str
    type: str
    label: str
    help: str
    required: bool
    choices: list[tuple[str, str]]
    accept: str
    obtained_from: str = ""


@dataclass(frozen=True)
class ProcedurePage:
    procedure: Procedure
    name: str
    summary: str
    audience: str
    fee: Decimal | None
    fee_note: str
    term_days: int
    approval: str
    approval_label: str
    requirements: list[tuple[str, str, str]]
    steps: list[str]
    legal_basis: list[str]
    channels: list[str]
    notes: str
    online: bool


APPROVAL_LABELS = {
    "automatic": N_("Aprobación automática: se aprueba al presentarlo completo."),
    "positive_silence": N_(
        "Si la entidad no responde en el plazo, se considera aprobado (silencio positivo)."
    ),
    "negative_silence": N_(
        "Si la entidad no responde en el plazo, puede considerarlo denegado y apelar (silencio negativo)."
    ),
}
CHANNEL_LABELS = {"online": N_("En línea"), "in_person": N_("En persona"), "mail": N_("Por correo")}


def field_view(field: FormField) -> FieldView:
    return FieldView(
        name=field.name,
        type=field.type,
        label=localize(field.label),
        help=localize(field.help),
        required=field.required,
        choices=[(c.value, localize(c.label)) for c in field.choices or []],
        accept=",".join(
            {
                "pdf": ".pdf,application/pdf",
                "jpeg": ".jpg,.jpeg,image/jpeg",
                "png": ".png,image/png",
            }[t]
            for t in field.accepted_types
        ),
    )


def procedure_page(procedure: Procedure) -> ProcedurePage:
    version = procedure.current_version
    assert version is not None
    spec = version.file
    try:
        fee: Decimal | None = version.fee_amount(clock.local_now().year)
    except UnknownUIT:
        fee = None
    return ProcedurePage(
        procedure=procedure,
        name=localize(spec.name),
        summary=localize(spec.summary),
        audience=localize(spec.audience),
        fee=fee,
        fee_note=localize(spec.fee.note),
        term_days=spec.term_days,
        approval=spec.approval,
        approval_label=_(APPROVAL_LABELS[spec.approval]),
        requirements=[(r.id, localize(r.name), localize(r.note)) for r in spec.requirements],
        steps=[localize(s) for s in spec.steps],
        legal_basis=list(spec.legal_basis),
        channels=[_(CHANNEL_LABELS[c]) for c in spec.channels],
        notes=localize(spec.notes),
        online="online" in spec.channels,
    )


def form_fields(procedure_version) -> list[FieldView]:  # type: ignore[no-untyped-def]
    """The form's fields; an upload that replaces obtained data names the agency it comes from."""
    spec = procedure_version.file
    owners = obtained_owners(spec)
    return [
        replace(field_view(f), obtained_from=owners.get(f.name, ""))
        if f.name in owners
        else field_view(f)
        for f in spec.form
    ]


def obtained_owners(spec) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Fallback upload field -> the agency that owns the service the data is obtained from."""
    from tambo.exchange.registry import registry

    owners = {}
    for req in spec.obtained_requirements():
        service = registry().service(req.obtained_from.service, req.obtained_from.version)
        if req.field and service is not None:
            owners[req.field] = service.owner
    return owners
