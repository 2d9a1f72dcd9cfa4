"""HTTP Message Signatures (RFC 9421) for requests and answers between agencies.

A request is signed by the calling agency over its method, target URI, Content-Digest
(RFC 9530, so the body is covered) and the ``Tambo-Request-Id`` and ``Tambo-Purpose``
fields, with ``created``, ``expires``, a one-time ``nonce`` and the ``keyid`` the registry
lists for the agency. The answer is signed by the providing agency over its status,
Content-Digest and the request's id, signature and nonce (``;req``-style binding by value),
so an answer cannot be replayed for another request. ``http-message-signatures`` does the
RFC 9421 work; this module fixes what is covered and checks time and replay.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from functools import cache

import http_sf
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException

from tambo.core import clock

from . import keys
from .errors import ExchangeError, refused
from .registry import registry

REQUEST_COMPONENTS = (
    "@method",
    "@target-uri",
    "content-digest",
    "tambo-request-id",
    "tambo-purpose",
)
ANSWER_COMPONENTS = ("@status", "content-digest", "tambo-request-id", "tambo-request-nonce")
TAG_REQUEST, TAG_ANSWER = "tambo-exchange-request", "tambo-exchange-answer"
LIFETIME = dt.timedelta(seconds=60)  # a request or answer is valid this long after creation
CLOCK_SKEW = dt.timedelta(seconds=5)


@dataclass
class Message:
    """The parts of an HTTP request the signature library reads."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Answer:
    """The parts of an HTTP response the signature library reads."""

    status_code: int
    headers: dict[str, str]
    request: Message | None = None


@dataclass(frozen=True)
class Verified:
    agency: str
    key_id: str
    nonce: str
    created: dt.datetime


class _Keys(HTTPSignatureKeyResolver):
    def __init__(self, agency_code: str | None = None) -> None:
        self.agency_code = agency_code

    def resolve_public_key(self, key_id: str):
        entry = registry().by_key_id(key_id)
        if entry is None:
            raise refused("unknown_key", f"La clave {key_id!r} no figura en el registro.")
        return entry.verification_key(key_id)

    def resolve_private_key(self, key_id: str):
        return keys.signing_key(self.agency_code, key_id)


@cache
def _signer(agency: str) -> HTTPMessageSigner:
    """One signer per agency and process (it holds no per-message state)."""
    return HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_Keys(agency))


_VERIFIER = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=_Keys())


def sign_request(message: Message, body: bytes, agency: str) -> str:
    """Sign ``message`` in place as ``agency``; returns the nonce used."""
    entry = registry().agency(agency)
    if entry is None:
        raise ExchangeError("unknown_agency", f"{agency} no figura en el registro.", status=500)
    nonce = secrets.token_urlsafe(16)
    now = clock.now()
    _signer(agency).sign(
        message,
        key_id=entry.key_id,
        created=now,
        expires=now + LIFETIME,
        nonce=nonce,
        tag=TAG_REQUEST,
        covered_component_ids=REQUEST_COMPONENTS,
        body=body,
    )
    return nonce


def sign_answer(answer: Answer, body: bytes, agency: str) -> None:
    entry = registry().agency(agency)
    now = clock.now()
    _signer(agency).sign(
        answer,
        key_id=entry.key_id,
        created=now,
        expires=now + LIFETIME,
        nonce=secrets.token_urlsafe(16),
        tag=TAG_ANSWER,
        covered_component_ids=ANSWER_COMPONENTS,
        body=body,
    )


def _signature_params(headers: dict[str, str]) -> dict:
    """The parameters of the message's single signature (created, expires, keyid, nonce, tag)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if "signature" not in lowered or "signature-input" not in lowered:
        raise refused("unsigned", "La solicitud no está firmada (RFC 9421).")
    try:
        parsed = http_sf.parse(lowered["signature-input"].encode(), tltype="dictionary")
    except Exception:
        raise refused("bad_signature", "Signature-Input no es válido.") from None
    if len(parsed) != 1:
        raise refused("bad_signature", "Se espera exactamente una firma.")
    (_label, (_components, params)) = next(iter(parsed.items()))
    return params


def verify(
    message: Message | Answer, body: bytes, tag: str, components: tuple[str, ...]
) -> Verified:
    """Check who signed, the signature's time window, then the signature and body digest.

    Raises :class:`ExchangeError` with a stable code (unsigned, unknown_key, expired,
    bad_signature); replay is the caller's check (the nonce must be new), since it needs
    the database.
    """
    params = _signature_params(message.headers)
    key_id = str(params.get("keyid", ""))
    entry = registry().by_key_id(key_id)
    if entry is None:
        raise refused("unknown_key", "La clave de la firma no figura en el registro.")
    now = clock.now()
    retired = entry.expires(key_id)
    if retired is not None and retired <= now:
        raise refused("key_expired", "La clave de la firma fue reemplazada y ya venció.")
    try:
        created = dt.datetime.fromtimestamp(int(params["created"]), tz=dt.UTC)
        expires = dt.datetime.fromtimestamp(int(params["expires"]), tz=dt.UTC)
    except (KeyError, TypeError, ValueError):
        raise refused("bad_signature", "La firma debe indicar created y expires.") from None
    if (
        created > now + CLOCK_SKEW
        or created < now - LIFETIME - CLOCK_SKEW
        or expires < now - CLOCK_SKEW
    ):
        raise refused("expired", "La firma está fuera de su tiempo de validez.")
    if not params.get("nonce"):
        raise refused("bad_signature", "La firma no lleva nonce.")
    try:
        _VERIFIER.verify(
            message, max_age=None, expect_tag=tag, require_components=components, body=body
        )
    except HTTPMessageSignaturesException as error:
        raise refused("bad_signature", f"Firma no válida: {error}") from None
    return Verified(agency=entry.code, key_id=key_id, nonce=str(params["nonce"]), created=created)
