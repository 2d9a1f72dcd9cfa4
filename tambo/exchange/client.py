"""Obtaining data from another agency's service: sign, send, verify the answer, log."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

import jsonschema
from django.conf import settings

from . import log
from .errors import ExchangeError, unavailable
from .registry import registry
from .signing import ANSWER_COMPONENTS, TAG_ANSWER, Answer, Message, sign_request, verify


@dataclass(frozen=True)
class Purpose:
    """Why the data is asked for: every request names it, and both logs keep it."""

    filing: str
    procedure: str
    legal_basis: str


@dataclass(frozen=True)
class Obtained:
    data: dict[str, Any]
    provider: str
    request_id: str
    duration_ms: float


def obtain(
    consumer: str,
    service_code: str,
    version: str,
    query: dict[str, Any],
    purpose: Purpose,
    *,
    subject_document: str = "",
    timeout: float | None = None,
    request_id: str | None = None,
) -> Obtained:
    """Ask ``service_code/version`` for ``query`` on behalf of agency ``consumer``.

    Raises :class:`ExchangeError`: ``retry`` is true when the provider did not answer
    (timeout, connection refused, 5xx), false when it refused or answered wrongly.
    ``request_id`` lets the caller fix the id beforehand (recorded with its attempt, so the
    attempt and both logs can be matched); a new one is made otherwise.
    """
    service = registry().service(service_code, version)
    if service is None:
        raise ExchangeError(
            "unknown_service", f"{service_code}/{version} no figura en el registro."
        )
    owner = registry().agency(service.owner)
    request_id = request_id or str(uuid.uuid4())
    body = json.dumps(
        {"query": query, "purpose": purpose.__dict__}, ensure_ascii=False, separators=(",", ":")
    ).encode()
    url = f"{owner.node.rstrip('/')}/x/v1/services/{service_code}/{version}"
    message = Message(
        "POST",
        url,
        {
            "content-type": "application/json",
            "tambo-request-id": request_id,
            "tambo-purpose": json.dumps(
                purpose.__dict__, ensure_ascii=False, separators=(",", ":")
            ),
        },
    )
    nonce = sign_request(message, body, consumer)
    context: dict[str, Any] = {
        "request_id": request_id,
        "direction": "out",
        "consumer": consumer,
        "provider": service.owner,
        "service": service_code,
        "version": version,
        "filing_number": purpose.filing,
        "procedure": purpose.procedure,
        "legal_basis": purpose.legal_basis[:300],
        "subject_document": subject_document[:20],
        "request_headers": {k.lower(): v for k, v in message.headers.items()},
        "request_body": body.decode(),
    }
    started = time.perf_counter()
    try:
        status, answer_headers, answer_body = _post(
            url, message.headers, body, timeout or settings.TAMBO_EXCHANGE_TIMEOUT
        )
        context.update(
            http_status=status,
            answer_headers=answer_headers,
            answer_body=answer_body.decode("utf-8", errors="replace"),
        )
        data = _check_answer(status, answer_headers, answer_body, request_id, nonce, service)
    except ExchangeError as error:
        log.write(outcome=error.code, duration_ms=_ms(started), **context)
        raise
    duration = _ms(started)
    log.write(outcome="ok", duration_ms=duration, **context)
    return Obtained(data=data, provider=service.owner, request_id=request_id, duration_ms=duration)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _post(
    url: str, headers: dict[str, str], body: bytes, timeout: float
) -> tuple[int, dict, bytes]:
    if urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
        # Only HTTP(S): a file: or custom-scheme node in the registry must not open local files.
        raise ExchangeError("provider_url_invalid", "La dirección del proveedor no es http(s).")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - registry URLs
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above  # nosec B310
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(1 << 20),
            )
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read(1 << 20)
    except TimeoutError:
        raise unavailable(
            "provider_timeout", f"El proveedor no respondió en {timeout:.0f} s."
        ) from None
    except (urllib.error.URLError, ConnectionError, OSError) as error:
        raise unavailable(
            "provider_unavailable", f"No se pudo contactar al proveedor: {error}"
        ) from None


def _check_answer(
    status: int, headers: dict, body: bytes, request_id: str, nonce: str, service: Any
) -> dict[str, Any]:
    if status >= 500:
        raise unavailable("provider_error", f"El proveedor respondió {status}.")
    verified = verify(Answer(status, headers), body, TAG_ANSWER, ANSWER_COMPONENTS)
    if verified.agency != service.owner:
        raise ExchangeError(
            "bad_answer", "La respuesta no está firmada por la entidad dueña del servicio."
        )
    if headers.get("tambo-request-id") != request_id or headers.get("tambo-request-nonce") != nonce:
        raise ExchangeError("bad_answer", "La respuesta no corresponde a esta solicitud.")
    data = json.loads(body)
    if status != 200:
        error = data.get("error", {}) if isinstance(data, dict) else {}
        raise ExchangeError(
            str(error.get("code", "refused")), str(error.get("message", "")), status=status
        )
    try:
        service.check_answer(data)
    except jsonschema.ValidationError as error:
        raise ExchangeError(
            "bad_answer", f"La respuesta no cumple el esquema: {error.message}"
        ) from None
    return data
