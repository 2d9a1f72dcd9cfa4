"""Valid sample answers and files for any procedure form (demo data, benchmarks, tests)."""

from __future__ import annotations

import random
from typing import Any

from stdnum.pe import cui, ruc

from tambo.catalog.schema import FormField, ProcedureFile

# A minimal but complete PDF (header, one empty page, xref, trailer, %%EOF).
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000052 00000 n \n"
    b"0000000101 00000 n \ntrailer<</Size 4/Root 1 0 R>>\nstartxref\n165\n%%EOF\n"
)


def sample_dni(rng: random.Random) -> str:
    return f"{rng.randint(10_000_000, 79_999_999)}"


def sample_ruc(rng: random.Random) -> str:
    body = f"20{rng.randint(10_000_000, 99_999_999)}"
    return body + ruc.calc_check_digit(body)


def sample_value(field: FormField, rng: random.Random) -> Any:
    kind = field.type
    if kind == "text":
        return "Bodega Santa Rosa"
    if kind == "long_text":
        return "Solicito se atienda mi pedido conforme a lo indicado en el formulario."
    if kind == "address":
        return "Av. Javier Prado Oeste 1234, San Isidro"
    if kind == "number":
        low = int(field.min) if field.min is not None else 1
        high = int(field.max) if field.max is not None else max(low, 120)
        return str(rng.randint(low, max(low, min(high, low + 200))))
    if kind == "date":
        return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if kind == "choice":
        return (field.choices or [])[0].value
    if kind == "yes_no":
        return "no"
    if kind == "dni":
        return sample_dni(rng)
    if kind == "ruc":
        return sample_ruc(rng)
    if kind == "ce":
        return f"{rng.randint(0, 999_999_999):09d}"
    if kind == "ubigeo":
        return "150131"
    if kind == "email":
        return "vecino@example.pe"
    if kind == "phone":
        return f"9{rng.randint(10_000_000, 99_999_999)}"
    raise ValueError(f"no sample for {kind}")


def sample_answers(form: ProcedureFile, rng: random.Random | None = None) -> dict[str, Any]:
    rng = rng or random.Random(7)  # noqa: S311 - demo data, not secrets
    return {f.name: sample_value(f, rng) for f in form.form if f.type != "file"}


def file_fields(form: ProcedureFile) -> list[FormField]:
    return [f for f in form.form if f.type == "file"]


def checked_cui(dni: str) -> str:
    return dni + cui.calc_check_digits(dni)[0]
