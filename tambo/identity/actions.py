"""Writes on a person's own account: the language they read in, their mobile phone."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from tambo.core import audit

from .language import is_supported, normalize
from .phones import normalize_mobile


def set_language(user: Any, code: str) -> bool:
    """Save the user's language; an unsupported code changes nothing (returns False)."""
    if not is_supported(code):
        return False
    language = normalize(code)
    if user.language == language:
        return True
    with transaction.atomic():
        previous = user.language
        user.language = language
        user.save(update_fields=["language"])
        audit.record(
            "user.language_set",
            "user",
            str(user.pk),
            actor=user,
            data={"from": previous, "to": language},
        )
    return True


def set_phone(user: Any, phone: str, *, sms_notices: bool | None = None) -> None:
    """Save the user's mobile number (Peruvian, +51 9XXXXXXXX) and whether notices go by SMS.

    Raises ValidationFailed for a number that is not a Peruvian mobile; nothing is saved then.
    """
    number = normalize_mobile(phone) if phone.strip() else ""
    with transaction.atomic():
        user.phone = number
        if sms_notices is not None:
            user.sms_notices = sms_notices and bool(number)
        user.save(update_fields=["phone", "sms_notices"])
        audit.record(
            "user.phone_set",
            "user",
            str(user.pk),
            actor=user,
            data={"set": bool(number), "sms_notices": user.sms_notices},
        )
