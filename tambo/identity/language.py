"""The language a person reads Tambo in: their saved choice, or the default (Spanish).

Notices, e-mails, SMS and PDFs are rendered in the *recipient's* language, not the language of
whoever caused them (an official working in Spanish signs a resolution a citizen reads in
English). An unknown or empty code falls back to the default, never to an error.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from django.conf import settings
from django.utils import translation


def normalize(code: str | None) -> str:
    """A supported language code for ``code`` (``"en-US"`` -> ``"en"``), else the default."""
    base = (code or "").strip().lower().replace("_", "-").split("-")[0]
    return base if base in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def is_supported(code: str | None) -> bool:
    base = (code or "").strip().lower()
    return base in dict(settings.LANGUAGES)


def language_of(user: Any) -> str:
    return normalize(getattr(user, "language", None))


def in_language_of(user: Any) -> AbstractContextManager[None]:
    """Render everything inside the block in ``user``'s language."""
    return translation.override(language_of(user))
