"""The three structured fields of Tambo's signature profile (RFC 8941): Signature-Input,
Signature and Content-Digest, each a dictionary of one member.

Every exchange reads two of them and writes all three on both sides, and ``http_sf`` (the
full grammar, in pure Python) spent about 40 µs on each parse or serialisation of a
Signature-Input: a fifth of the protocol's own CPU on the provider. Tambo's signers always
write the same simple shape (strings without escapes, integers, base64 with padding), so a
field in exactly that shape is read and written here directly; anything else, including
every malformed field, goes through ``http_sf`` and is accepted or refused by it. The tests
check, on Tambo's fields and on generated ones, that both readings give the same value.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import http_sf

_KEY = r"[a-z*][a-z0-9_.*-]*"
_STRING = r'"[ !#-\[\]-~]*"'  # printable ASCII without '"' or '\' (so no escapes to undo)
_INTEGER = r"-?[0-9]{1,15}"
_BASE64 = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
_BYTES_MEMBER = re.compile(rf"({_KEY})=:({_BASE64}):")
_LIST_MEMBER = re.compile(
    rf"({_KEY})=\(((?:{_STRING}(?: {_STRING})*)?)\)((?:;{_KEY}=(?:{_INTEGER}|{_STRING}))*)"
)
_ITEM = re.compile(_STRING)
_PARAMETER = re.compile(rf";({_KEY})=({_INTEGER}|{_STRING})")
_KEY_ONLY = re.compile(_KEY)


def parse_dictionary(value: str) -> dict[str, tuple[Any, dict[str, Any]]]:
    """The field as ``http_sf.parse(value, tltype="dictionary")`` reads it (member name to
    (value, parameters)); raises what it raises for a field it refuses."""
    if match := _BYTES_MEMBER.fullmatch(value):
        return {match[1]: (base64.b64decode(match[2], validate=True), {})}
    if match := _LIST_MEMBER.fullmatch(value):
        items = [(item[1:-1], {}) for item in _ITEM.findall(match[2])]
        return {match[1]: (items, _parameters(match[3]))}
    return http_sf.parse(value.encode(), tltype="dictionary")


def _parameters(text: str) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for key, raw in _PARAMETER.findall(text):
        parameters[key] = raw[1:-1] if raw.startswith('"') else int(raw)
    return parameters


def serialise_inner_list(items: list[tuple[Any, dict[str, Any]]], params: dict[str, Any]) -> str:
    """An inner list with its parameters as RFC 8941 serialises it (what ``http_sf.ser``
    writes for it): the ``@signature-params`` line of a signature base."""
    names = [_string(name) if not item_params else None for name, item_params in items]
    parts = [_parameter(key, value) for key, value in params.items()]
    if None in names or None in parts:
        return http_sf.ser({"x": (items, params)})[2:]
    return f"({' '.join(names)}){''.join(parts)}"  # type: ignore[arg-type]


def _string(value: Any) -> str | None:
    """The sf-string of ``value`` if it is one that needs no escapes, else None."""
    if type(value) is not str:
        return None
    text = f'"{value}"'
    return text if _ITEM.fullmatch(text) else None


def _parameter(key: str, value: Any) -> str | None:
    """``;key=value`` for a string or an integer in range, else None."""
    if not _KEY_ONLY.fullmatch(key):
        return None
    if type(value) is int:
        return f";{key}={value}" if abs(value) < 10**15 else None
    text = _string(value)
    return None if text is None else f";{key}={text}"


def bytes_member(label: str, value: bytes) -> str:
    """A one-member dictionary whose value is a byte sequence (Signature, Content-Digest)."""
    return f"{label}=:{base64.b64encode(value).decode()}:"
