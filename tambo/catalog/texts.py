"""Pick the citizen's language from a catalogue text, falling back to Spanish."""

from __future__ import annotations

import unicodedata

from django.utils import translation


def localize(text: str | dict[str, str] | None, lang: str | None = None) -> str:
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    lang = (lang or translation.get_language() or "es").split("-")[0]
    return text.get(lang) or text["es"]


def fold(text: str) -> str:
    """Lowercase without accents, for accent- and case-insensitive search."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def all_languages(text: str | dict[str, str] | None) -> str:
    if text is None:
        return ""
    return text if isinstance(text, str) else " ".join(text.values())
