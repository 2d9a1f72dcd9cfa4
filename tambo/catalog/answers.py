"""Server-side validation of a citizen's answers against a procedure's form.

The same form declaration drives the web form, the API schema and this validation,
so the three never disagree. File fields are answered by uploaded documents, checked
by the cases app; here they are only checked for presence.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.pe import cui, ruc

from .schema import FormField, ProcedureFile
from .texts import localize

DEFAULT_MAX_LENGTH = {"text": 200, "long_text": 5000, "address": 300}
NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")
CE_RE = re.compile(r"^\d{9}$")
UBIGEO_RE = re.compile(r"^(0[1-9]|1\d|2[0-5])(0[1-9]|[1-9]\d)(0[1-9]|[1-9]\d)$")
# A mobile (9 digits starting with 9) or a landline with its area code: Lima 1 + 7 digits,
# the provinces a two-digit code 41-84 + 6 digits; the trunk prefix 0 is optional.
PHONE_RE = re.compile(r"^(9\d{8}|0?1\d{7}|0?[4-8]\d{7})$")


class FieldError(ValueError):
    """A value that does not fit its field; the message is shown to the citizen."""


def _text(field: FormField, value: Any) -> str:
    if not isinstance(value, str):
        raise FieldError(_("Escriba un texto."))
    text = value.strip()
    limit = field.max_length or DEFAULT_MAX_LENGTH.get(field.type, 200)
    if len(text) > limit:
        raise FieldError(_("Escriba como máximo %(limit)s caracteres.") % {"limit": limit})
    return text


def _number(field: FormField, value: Any) -> str:
    try:
        text = str(value).strip().replace(",", ".")
        number = Decimal(text)
    except InvalidOperation:
        raise FieldError(_("Escriba un número, por ejemplo 120 o 85.5.")) from None
    if not number.is_finite() or not NUMBER_RE.match(text):
        raise FieldError(_("Escriba un número, por ejemplo 120 o 85.5."))
    if field.min is not None and number < field.min:
        raise FieldError(_("Escriba un número igual o mayor que %(min)s.") % {"min": field.min})
    if field.max is not None and number > field.max:
        raise FieldError(_("Escriba un número igual o menor que %(max)s.") % {"max": field.max})
    return format(number, "f")


def _date(field: FormField, value: Any) -> str:
    try:
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise FieldError(_("Escriba una fecha válida, por ejemplo 2026-03-27.")) from None


def _choice(field: FormField, value: Any) -> str:
    allowed = {c.value for c in field.choices or []}
    if str(value) not in allowed:
        raise FieldError(_("Elija una de las opciones."))
    return str(value)


def _yes_no(field: FormField, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    normalized = str(value).strip().lower()
    if normalized in {"yes", "si", "sí", "true", "1"}:
        return True
    if normalized in {"no", "false", "0"}:
        return False
    raise FieldError(_("Elija Sí o No."))


def _dni(field: FormField, value: Any) -> str:
    try:
        return cui.validate(str(value))[:8]
    except StdnumError:
        raise FieldError(_("Escriba un DNI válido: 8 dígitos.")) from None


def _ruc(field: FormField, value: Any) -> str:
    try:
        return ruc.validate(str(value))
    except StdnumError:
        raise FieldError(_("Escriba un RUC válido: 11 dígitos con su dígito de control.")) from None


def _ce(field: FormField, value: Any) -> str:
    # Migraciones issues 9-digit numbers; there is no public check-digit algorithm.
    compact = re.sub(r"[\s.-]", "", str(value))
    if not CE_RE.match(compact):
        raise FieldError(_("Escriba un carné de extranjería válido: 9 dígitos."))
    return compact


def _ubigeo(field: FormField, value: Any) -> str:
    compact = str(value).strip()
    if not UBIGEO_RE.match(compact):
        raise FieldError(
            _("Escriba un ubigeo válido: 6 dígitos (departamento, provincia, distrito).")
        )
    return compact


def _email(field: FormField, value: Any) -> str:
    text = str(value).strip()
    try:
        validate_email(text)
    except DjangoValidationError:
        raise FieldError(
            _("Escriba un correo electrónico válido, por ejemplo nombre@ejemplo.pe.")
        ) from None
    return text


def _phone(field: FormField, value: Any) -> str:
    compact = re.sub(r"[\s()-]", "", str(value)).removeprefix("+51")
    if not PHONE_RE.match(compact):
        raise FieldError(
            _("Escriba un teléfono válido: un celular de 9 dígitos o un fijo con su código.")
        )
    return compact


VALIDATORS: dict[str, Callable[[FormField, Any], Any]] = {
    "text": _text,
    "long_text": _text,
    "address": _text,
    "number": _number,
    "date": _date,
    "choice": _choice,
    "yes_no": _yes_no,
    "dni": _dni,
    "ruc": _ruc,
    "ce": _ce,
    "ubigeo": _ubigeo,
    "email": _email,
    "phone": _phone,
}


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def validate_answers(
    form: ProcedureFile,
    answers: Mapping[str, Any],
    files_present: set[str],
    *,
    partial: bool = False,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Clean ``answers``; return ``(cleaned, errors)`` keyed by field name.

    ``partial`` (saving a draft) checks the values given but not missing required ones.
    Unknown keys are reported, so a typo in an API call is not silently dropped.
    """
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    known = {f.name for f in form.form}
    for name in answers:
        if name not in known:
            errors[name] = _("Este campo no existe en el formulario.")
    for field in form.form:
        if field.type == "file":
            if field.required and not partial and field.name not in files_present:
                errors[field.name] = _("Adjunte el archivo: %(label)s.") % {
                    "label": localize(field.label)
                }
            continue
        value = answers.get(field.name)
        if _is_blank(value):
            if field.required and not partial:
                errors[field.name] = (
                    _("Elija una opción.")
                    if field.type in {"choice", "yes_no"}
                    else _("Este dato es obligatorio.")
                )
            continue
        try:
            cleaned[field.name] = VALIDATORS[field.type](field, value)
        except FieldError as exc:
            errors[field.name] = str(exc)
    return cleaned, errors


JSON_TYPES = {
    "number": {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"},
    "date": {"type": "string", "format": "date"},
    "yes_no": {"type": "boolean"},
    "dni": {"type": "string", "pattern": r"^\d{8}$"},
    "ruc": {"type": "string", "pattern": r"^\d{11}$"},
    "ce": {"type": "string", "pattern": r"^\d{9}$"},
    "ubigeo": {"type": "string", "pattern": r"^\d{6}$"},
    "email": {"type": "string", "format": "email"},
    "phone": {"type": "string"},
}


def json_schema(form: ProcedureFile, lang: str | None = None) -> dict[str, Any]:
    """JSON Schema of the ``answers`` object, for API clients (file fields are uploads)."""
    properties: dict[str, Any] = {}
    required = []
    for field in form.form:
        if field.type == "file":
            continue
        prop = dict(JSON_TYPES.get(field.type, {"type": "string"}))
        prop["title"] = localize(field.label, lang)
        if field.help:
            prop["description"] = localize(field.help, lang)
        if field.type == "choice":
            prop["enum"] = [c.value for c in field.choices or []]
        if field.type in DEFAULT_MAX_LENGTH or field.max_length:
            prop["maxLength"] = field.max_length or DEFAULT_MAX_LENGTH[field.type]
        properties[field.name] = prop
        if field.required:
            required.append(field.name)
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
