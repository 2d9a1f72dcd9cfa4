"""What a verification shows publicly: verification codes and each kind's allowed public fields.

Anyone holding a verification code sees the issuing agency, the document type, the date and
the ``public_fields`` of the document — nothing else (no title, no names, no identity
numbers, never the file). Each kind allows a fixed set of field names; values are short
text, and a stand-alone DNI, CE or RUC number is refused as a last guard.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .models import DocumentKind, IssuedDocument

# Upper case without the look-alikes 0/O, 1/I/L: safe to read aloud and to type.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
_CODE_RE = re.compile(f"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")
# A stand-alone DNI (8 digits), carné de extranjería (9) or RUC (11); not a longer number
# inside a code such as an expediente number (MDSI-2026-0000001).
_IDENTITY_NUMBER_RE = re.compile(r"(?<![\w-])(?:\d{8,9}|\d{11})(?![\w-])")
MAX_VALUE_LENGTH = 200

# Field names are Spanish, like the public pages; values are shown as given.
FIELD_LABELS = {
    "tipo": _("Denominación"),
    "numero": _("Número del documento"),
    "expediente": _("Número de expediente"),
    "entidad": _("Entidad emisora"),
    "tramite": _("Trámite"),
    "fecha": _("Fecha del documento"),
    "recepcion": _("Fecha de recepción"),
    "plazo": _("Plazo máximo"),
    "decision": _("Decisión"),
    "vigencia": _("Vigente hasta"),
}
_COMMON = ("tipo", "numero", "expediente", "entidad", "tramite", "fecha")
ALLOWED_FIELDS: dict[str, tuple[str, ...]] = {
    DocumentKind.RECEIPT: (*_COMMON, "recepcion", "plazo"),
    DocumentKind.RESOLUTION: (*_COMMON, "decision", "vigencia"),
    DocumentKind.SILENCE_CERTIFICATE: (*_COMMON, "decision", "plazo", "vigencia"),
    DocumentKind.EVIDENCE_CERTIFICATE: _COMMON,
    DocumentKind.OTHER: _COMMON,
}


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _position in range(CODE_LENGTH))


def normalize_code(text: str | None) -> str | None:
    """The code as stored (upper case, no spaces or dashes), or None if it cannot be one."""
    cleaned = re.sub(r"[\s\-]", "", text or "").upper()
    return cleaned if _CODE_RE.match(cleaned) else None


def format_code(code: str) -> str:
    """``ABCD-EFGH-JKMN``: easier to read on paper (dashes are ignored when typed back)."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def verification_url(code: str) -> str:
    return f"{settings.TAMBO_PUBLIC_URL.rstrip('/')}/verificar/{code}/"


def clean_public_fields(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Check ``fields`` against what ``kind`` may show publicly; dates become ISO text.

    Raises ``ValueError`` (a programming error of the caller) for a field the kind does
    not allow, a value that is not short text, a number or a date, or a value that looks
    like an identity number.
    """
    allowed = ALLOWED_FIELDS.get(kind)
    if allowed is None:
        raise ValueError(f"unknown document kind {kind!r}")
    cleaned: dict[str, Any] = {}
    for name, value in (fields or {}).items():
        if name not in allowed:
            raise ValueError(
                f"public field {name!r} is not allowed for {kind} documents "
                f"(allowed: {', '.join(allowed)})"
            )
        if isinstance(value, dt.date):  # datetimes too
            value = value.isoformat()
        if value is not None and not isinstance(value, (str, int, bool)):
            raise ValueError(f"public field {name!r} must be text, a number or a date")
        if isinstance(value, str) and len(value) > MAX_VALUE_LENGTH:
            raise ValueError(f"public field {name!r} is longer than {MAX_VALUE_LENGTH} characters")
        if _IDENTITY_NUMBER_RE.search(str(value)):
            raise ValueError(
                f"public field {name!r} looks like it contains an identity number; "
                "personal data must never be public"
            )
        cleaned[name] = value
    return cleaned


@dataclass(frozen=True)
class PublicField:
    name: str
    label: str
    value: Any


@dataclass(frozen=True)
class PublicDocument:
    """The public face of an issued document: what the code page and the API show."""

    code: str
    code_display: str
    kind: str
    kind_label: str
    agency_code: str
    agency_name: str
    issued_at: dt.datetime
    fields: list[PublicField]
    verification_url: str

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "kind": self.kind,
            "kind_label": self.kind_label,
            "agency": {"code": self.agency_code, "name": self.agency_name},
            "issued_at": self.issued_at.isoformat(),
            "public_fields": {f.name: f.value for f in self.fields},
            "verification_url": self.verification_url,
        }


def public_document(document: IssuedDocument) -> PublicDocument:
    allowed = ALLOWED_FIELDS.get(document.kind, ())
    stored = document.public_fields or {}
    # Shown in the kind's order; anything not allowed (should never be stored) is dropped.
    fields = [
        PublicField(name, str(FIELD_LABELS[name]), stored[name])
        for name in allowed
        if name in stored
    ]
    return PublicDocument(
        code=document.code,
        code_display=format_code(document.code),
        kind=document.kind,
        kind_label=str(document.get_kind_display()),
        agency_code=document.agency.code,
        agency_name=document.agency.name,
        issued_at=document.issued_at,
        fields=fields,
        verification_url=verification_url(document.code),
    )
