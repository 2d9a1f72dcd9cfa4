"""Peruvian mobile numbers: nine digits starting with 9, stored as +51 9XXXXXXXX."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from tambo.core.errors import ValidationFailed

MOBILE_RE = re.compile(r"^(?:\+?51)?(9\d{8})$")


def normalize_mobile(raw: str, field: str = "phone") -> str:
    digits = re.sub(r"[\s\-().]", "", raw or "")
    match = MOBILE_RE.fullmatch(digits)
    if not match:
        raise ValidationFailed(
            {field: _("Escriba un celular peruano de 9 dígitos que empiece con 9.")}
        )
    return "+51" + match.group(1)


def masked(phone: str) -> str:
    """``+51 9•• ••• 123``: enough for the citizen to recognise it, not to copy it."""
    return f"+51 {phone[3]}•• ••• {phone[-3:]}" if len(phone) == 12 else "•••"
