"""Server-side validation of a citizen's answers (tambo.catalog.answers) and the API schema."""

from __future__ import annotations

from typing import Any

import pytest
from stdnum.pe import cui, ruc

from tambo.catalog.answers import json_schema, validate_answers
from tambo.catalog.schema import ProcedureFile


def make_form(
    fields: list[dict[str, Any]], requirements: list[dict[str, Any]] | None = None
) -> ProcedureFile:
    """A minimal valid procedure file whose form is ``fields``."""
    return ProcedureFile.model_validate(
        {
            "kind": "procedure",
            "code": "PRUEBA",
            "agency": "MDSI",
            "unit": "MP",
            "name": "Solicitar una prueba",
            "summary": "Un trámite de prueba.",
            "audience": "Cualquier persona.",
            "topics": ["pruebas"],
            "legal_basis": ["Ley de prueba"],
            "fee": {"kind": "free"},
            "term_days": 10,
            "approval": "positive_silence",
            "channels": ["online"],
            "steps": ["Llene el formulario."],
            "requirements": requirements
            or [{"id": "datos", "kind": "data", "name": "Datos del formulario"}],
            "form": fields,
        }
    )


def one_field(type_: str, **extra: Any) -> ProcedureFile:
    return make_form([{"name": "valor", "type": type_, "label": "Valor", **extra}])


def check(form: ProcedureFile, value: Any) -> tuple[Any, str | None]:
    """Validate ``{"valor": value}``; return the cleaned value (or None) and the error (or None)."""
    cleaned, errors = validate_answers(form, {"valor": value}, set())
    return cleaned.get("valor"), errors.get("valor")


def accepted(form: ProcedureFile, value: Any) -> Any:
    cleaned, error = check(form, value)
    assert error is None, f"{value!r} was refused: {error}"
    return cleaned


def refused(form: ProcedureFile, value: Any) -> str:
    cleaned, error = check(form, value)
    assert error is not None, f"{value!r} was accepted as {cleaned!r}"
    assert cleaned is None
    return error


# --- text, long_text, address --------------------------------------------------------------


def test_text_is_stripped():
    assert accepted(one_field("text"), "  Bodega Santa Rosa  ") == "Bodega Santa Rosa"


def test_text_default_limit_is_200_characters():
    form = one_field("text")
    assert accepted(form, "a" * 200) == "a" * 200
    assert "200" in refused(form, "a" * 201)


def test_text_custom_max_length():
    form = one_field("text", max_length=10)
    assert accepted(form, "abcdefghij") == "abcdefghij"
    assert "como máximo 10 caracteres" in refused(form, "abcdefghijk")


def test_text_must_be_a_string():
    assert refused(one_field("text"), 123) == "Escriba un texto."


def test_long_text_default_limit_is_5000_characters():
    form = one_field("long_text")
    assert accepted(form, "x" * 5000) == "x" * 5000
    assert "5000" in refused(form, "x" * 5001)


def test_long_text_custom_max_length():
    form = one_field("long_text", max_length=4000)
    assert len(accepted(form, "x" * 4000)) == 4000
    assert "como máximo 4000 caracteres" in refused(form, "x" * 4001)


def test_address_default_limit_is_300_characters():
    form = one_field("address")
    assert accepted(form, "Av. Javier Prado Oeste 1234, San Isidro") == (
        "Av. Javier Prado Oeste 1234, San Isidro"
    )
    assert accepted(form, "a" * 300) == "a" * 300
    assert "300" in refused(form, "a" * 301)


# --- number ----------------------------------------------------------------------------------


def test_number_accepts_integers_and_decimals():
    form = one_field("number")
    assert accepted(form, "120") == "120"
    assert accepted(form, " 85.5 ") == "85.5"
    assert accepted(form, 42) == "42"


def test_number_accepts_a_comma_as_decimal_separator():
    assert accepted(one_field("number"), "85,5") == "85.5"


@pytest.mark.parametrize("value", ["ciento veinte", "12a", "1.2.3", "1,2,3"])
def test_number_refuses_what_is_not_a_number(value):
    assert "Escriba un número" in refused(one_field("number"), value)


@pytest.mark.parametrize("value", ["NaN", "nan", "Infinity", "-Infinity", "inf", "sNaN"])
def test_number_refuses_nan_and_infinity(value):
    assert "Escriba un número" in refused(one_field("number"), value)


def test_number_min_and_max():
    form = one_field("number", min=1, max=100)
    assert accepted(form, "1") == "1"
    assert accepted(form, "100") == "100"
    assert "igual o mayor que 1" in refused(form, "0")
    assert "igual o mayor que 1" in refused(form, "0,5")
    assert "igual o menor que 100" in refused(form, "100.01")


# --- date ----------------------------------------------------------------------------------


def test_date_accepts_iso_dates():
    assert accepted(one_field("date"), "2026-03-27") == "2026-03-27"
    assert accepted(one_field("date"), " 2024-02-29 ") == "2024-02-29"  # leap year


@pytest.mark.parametrize("value", ["2026-02-31", "2026-02-29", "2026-13-01", "27/03/2026", "ayer"])
def test_date_refuses_impossible_or_non_iso_dates(value):
    assert "fecha válida" in refused(one_field("date"), value)


# --- choice, yes_no --------------------------------------------------------------------------


CHOICES = [
    {"value": "correo", "label": "Por correo"},
    {"value": "copia_simple", "label": "Copia simple"},
]


def test_choice_accepts_a_listed_value():
    assert accepted(one_field("choice", choices=CHOICES), "copia_simple") == "copia_simple"


@pytest.mark.parametrize("value", ["fax", "Correo", "Por correo"])
def test_choice_refuses_an_unknown_value(value):
    assert refused(one_field("choice", choices=CHOICES), value) == "Elija una de las opciones."


@pytest.mark.parametrize("value", ["yes", "si", "sí", "Sí", "SI", "true", "True", True, "1"])
def test_yes_no_true(value):
    assert accepted(one_field("yes_no"), value) is True


@pytest.mark.parametrize("value", ["no", "No", "false", "FALSE", False, "0"])
def test_yes_no_false(value):
    assert accepted(one_field("yes_no"), value) is False


@pytest.mark.parametrize("value", ["quizás", "tal vez", "2", "nope"])
def test_yes_no_refuses_garbage(value):
    assert refused(one_field("yes_no"), value) == "Elija Sí o No."


def test_yes_no_false_is_kept_and_counts_as_an_answer():
    cleaned, errors = validate_answers(one_field("yes_no"), {"valor": False}, set())
    assert errors == {}
    assert cleaned == {"valor": False}


# --- dni, ruc, ce --------------------------------------------------------------------------


def test_dni_accepts_8_digits():
    assert accepted(one_field("dni"), "40123456") == "40123456"


@pytest.mark.parametrize("value", ["4012345", "401234", "401234567890"])
def test_dni_refuses_a_wrong_length(value):
    assert "DNI válido" in refused(one_field("dni"), value)


@pytest.mark.parametrize("value", ["4012345A", "ABCDEFGH", "40-12-34-5X"])
def test_dni_refuses_letters(value):
    assert "DNI válido" in refused(one_field("dni"), value)


def test_dni_with_its_cui_check_digit_is_accepted_and_compacted_to_8_digits():
    # CUI check digit of 10117410, by hand: weights 3,2,7,6,5,4,3,2 on 1,0,1,1,7,4,1,0 give
    # 3+0+7+6+35+16+3+0 = 70; 70 % 11 = 4; '65432110987'[4] = '2' (or 'KJIHGFEDCBA'[4] = 'G').
    assert cui.calc_check_digits("10117410") == "2G"
    form = one_field("dni")
    assert accepted(form, "101174102") == "10117410"
    assert accepted(form, "10117410-2") == "10117410"
    assert accepted(form, "10117410G") == "10117410"


def test_dni_with_a_wrong_cui_check_digit_is_refused():
    assert "DNI válido" in refused(one_field("dni"), "101174103")


def test_ruc_accepts_a_valid_check_digit():
    # By hand: weights 5,4,3,2,7,6,5,4,3,2 on 2,0,1,3,1,3,7,7,2,2 give
    # 10+0+3+6+7+18+35+28+6+4 = 117; 117 % 11 = 7; 11 - 7 = 4.
    assert ruc.calc_check_digit("2013137722") == "4"
    form = one_field("ruc")
    assert accepted(form, "20131377224") == "20131377224"
    body = "2051233379"
    assert accepted(form, body + ruc.calc_check_digit(body)) == body + ruc.calc_check_digit(body)


def test_ruc_refuses_a_wrong_check_digit():
    form = one_field("ruc")
    for digit in "0123456789":
        if digit != "4":
            assert "RUC válido" in refused(form, "2013137722" + digit)


@pytest.mark.parametrize("value", ["2013137722", "201313772244", "2013137722X"])
def test_ruc_refuses_a_wrong_length_or_letters(value):
    assert "RUC válido" in refused(one_field("ruc"), value)


def test_ce_accepts_9_digits():
    form = one_field("ce")
    assert accepted(form, "001234567") == "001234567"
    assert accepted(form, "001-234-567") == "001234567"


@pytest.mark.parametrize("value", ["00123456", "0012345678", "00123456X"])
def test_ce_refuses_anything_but_9_digits(value):
    assert "carné de extranjería" in refused(one_field("ce"), value)


# --- ubigeo, email, phone --------------------------------------------------------------------


@pytest.mark.parametrize("value", ["150131", "010101", "250101", "070101"])
def test_ubigeo_accepts_valid_codes(value):
    assert accepted(one_field("ubigeo"), value) == value


@pytest.mark.parametrize(
    "value", ["000000", "260101", "269999", "150100", "150031", "15013", "1501311"]
)
def test_ubigeo_refuses_invalid_codes(value):
    assert "ubigeo válido" in refused(one_field("ubigeo"), value)


def test_email():
    form = one_field("email")
    assert accepted(form, " vecino@example.pe ") == "vecino@example.pe"
    assert "correo electrónico válido" in refused(form, "vecino-at-example.pe")
    assert "correo electrónico válido" in refused(form, "vecino@")


@pytest.mark.parametrize(
    ("value", "compact"),
    [
        ("987654321", "987654321"),  # mobile: 9 digits starting with 9
        ("987 654 321", "987654321"),
        ("+51 987 654 321", "987654321"),  # country prefix removed
        ("+51987654321", "987654321"),
        ("014123456", "014123456"),  # Lima landline with its area code 01
        ("(01) 412-3456", "014123456"),
        ("14123456", "14123456"),  # Lima landline without the leading 0
        ("044 123456", "044123456"),  # Trujillo landline (area code 044, 6 digits)
    ],
)
def test_phone_accepts_mobiles_and_landlines(value, compact):
    assert accepted(one_field("phone"), value) == compact


@pytest.mark.parametrize(
    "value",
    [
        "98765432",  # mobile with 8 digits
        "9876543210",  # mobile with 10 digits
        "812345678",  # 9 digits not starting with 9
        "12345",
        "teléfono",
        "+1 987 654 321",
    ],
)
def test_phone_refuses_invalid_numbers(value):
    assert "teléfono válido" in refused(one_field("phone"), value)


@pytest.mark.parametrize("value", ["4123456", "04123456"])
def test_phone_refuses_a_landline_without_its_area_code(value):
    # The message asks for "un fijo con su código". In Peru's numbering plan a landline with
    # its area code always has 8 significant digits: Lima "1" + 7 digits, elsewhere a 2-digit
    # area code + 6 digits. "4123456" is a Lima subscriber number with no area code: only 7.
    assert "teléfono válido" in refused(one_field("phone"), value)


# --- required, optional, partial, unknown keys, files ---------------------------------------


FORM_FIELDS = [
    {"name": "nombre", "type": "text", "label": "Nombre del negocio"},
    {"name": "forma", "type": "choice", "label": "Forma", "choices": CHOICES},
    {"name": "acepta", "type": "yes_no", "label": "¿Acepta?"},
    {"name": "oficina", "type": "text", "label": "Oficina", "required": False},
    {"name": "plano", "type": "file", "label": "Plano de ubicación", "accept": ["pdf"]},
    {"name": "foto", "type": "file", "label": "Foto", "required": False},
]
DOC_REQUIREMENTS = [{"id": "plano", "kind": "document", "name": "Plano", "field": "plano"}]


def full_form() -> ProcedureFile:
    return make_form(FORM_FIELDS, DOC_REQUIREMENTS)


def test_missing_required_fields_are_reported():
    cleaned, errors = validate_answers(full_form(), {}, set())
    assert cleaned == {}
    assert errors == {
        "nombre": "Este dato es obligatorio.",
        "forma": "Elija una opción.",
        "acepta": "Elija una opción.",
        "plano": "Adjunte el archivo: Plano de ubicación.",
    }


def test_blank_strings_count_as_missing():
    _cleaned, errors = validate_answers(
        full_form(), {"nombre": "   ", "forma": "", "acepta": None}, {"plano"}
    )
    assert set(errors) == {"nombre", "forma", "acepta"}


def test_optional_blank_field_is_left_out_of_cleaned():
    answers = {"nombre": "Bodega", "forma": "correo", "acepta": "sí", "oficina": "  "}
    cleaned, errors = validate_answers(full_form(), answers, {"plano"})
    assert errors == {}
    assert cleaned == {"nombre": "Bodega", "forma": "correo", "acepta": True}
    assert "oficina" not in cleaned


def test_partial_does_not_report_missing_required_fields():
    cleaned, errors = validate_answers(full_form(), {"nombre": "Bodega"}, set(), partial=True)
    assert errors == {}
    assert cleaned == {"nombre": "Bodega"}


def test_partial_still_checks_the_values_given():
    _cleaned, errors = validate_answers(full_form(), {"forma": "fax"}, set(), partial=True)
    assert errors == {"forma": "Elija una de las opciones."}


def test_unknown_answer_keys_are_reported():
    answers = {"nombre": "Bodega", "forma": "correo", "acepta": "no", "nombr": "typo"}
    cleaned, errors = validate_answers(full_form(), answers, {"plano"})
    assert errors == {"nombr": "Este campo no existe en el formulario."}
    assert "nombr" not in cleaned


def test_unknown_answer_keys_are_reported_even_when_partial():
    _cleaned, errors = validate_answers(full_form(), {"extra": "x"}, set(), partial=True)
    assert errors == {"extra": "Este campo no existe en el formulario."}


def test_file_fields_are_only_checked_for_presence():
    answers = {"nombre": "Bodega", "forma": "correo", "acepta": "no"}
    cleaned, errors = validate_answers(full_form(), answers, {"plano"})
    assert errors == {}
    assert "plano" not in cleaned
    assert "foto" not in cleaned
    # An optional file may be missing; a required one may not.
    _cleaned, errors = validate_answers(full_form(), answers, {"foto"})
    assert errors == {"plano": "Adjunte el archivo: Plano de ubicación."}


# --- JSON schema ---------------------------------------------------------------------------


def test_json_schema_lists_required_fields_without_files():
    schema = json_schema(full_form())
    assert schema["type"] == "object"
    assert schema["required"] == ["nombre", "forma", "acepta"]
    assert "oficina" in schema["properties"]
    assert "oficina" not in schema["required"]


def test_json_schema_excludes_file_fields():
    schema = json_schema(full_form())
    assert set(schema["properties"]) == {"nombre", "forma", "acepta", "oficina"}
    assert "plano" not in schema["properties"]
    assert "foto" not in schema["properties"]


def test_json_schema_forbids_additional_properties():
    assert json_schema(full_form())["additionalProperties"] is False


def test_json_schema_enum_for_choices():
    prop = json_schema(full_form())["properties"]["forma"]
    assert prop["enum"] == ["correo", "copia_simple"]
    assert prop["title"] == "Forma"


def test_json_schema_types_and_lengths():
    form = make_form(
        [
            {"name": "nombre", "type": "text", "label": "Nombre", "max_length": 50},
            {"name": "detalle", "type": "long_text", "label": "Detalle"},
            {"name": "acepta", "type": "yes_no", "label": "Acepta"},
            {"name": "dni", "type": "dni", "label": "DNI"},
        ]
    )
    props = json_schema(form)["properties"]
    assert props["nombre"]["maxLength"] == 50
    assert props["detalle"]["maxLength"] == 5000
    assert props["acepta"]["type"] == "boolean"
    assert props["dni"]["pattern"] == r"^\d{8}$"


def test_json_schema_uses_the_requested_language():
    form = make_form([{"name": "nombre", "type": "text", "label": {"es": "Nombre", "en": "Name"}}])
    assert json_schema(form, "en")["properties"]["nombre"]["title"] == "Name"
    assert json_schema(form, "es")["properties"]["nombre"]["title"] == "Nombre"
