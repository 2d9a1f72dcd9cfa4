"""Building blocks shared by the catalogue file schemas: strict models and translatable texts."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

LANGS = ("es", "qu", "en")
CODE_RE = r"^[A-Z0-9][A-Z0-9-]{1,31}$"
NAME_RE = r"^[a-z][a-z0-9_]{0,39}$"


def _check_text(value: object) -> object:
    if isinstance(value, dict):
        unknown = set(value) - set(LANGS)
        if unknown:
            raise ValueError(f"unknown language(s) {sorted(unknown)}; use {', '.join(LANGS)}")
        if not str(value.get("es", "")).strip():
            raise ValueError("a Spanish text ('es') is required")
        return {k: str(v).strip() for k, v in value.items()}
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty text")
    return value.strip()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Text = Annotated[str | dict[str, str], BeforeValidator(_check_text)]
