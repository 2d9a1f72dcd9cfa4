"""Serving a data service to another agency: verify, authorise, answer, sign, log."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jsonschema
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse

from tambo.privacy import access as access_log
from tambo.privacy.access import AccessRecord, prepare_access

from . import keys, log
from .errors import ExchangeError, refused
from .registry import registry
from .services import HANDLERS
from .signing import (
    REQUEST_COMPONENTS,
    TAG_REQUEST,
    Answer,
    Message,
    sign_answer,
    verify,
)

MAX_BODY = 64 * 1024


def serve(request: HttpRequest, code: str, version: str) -> HttpResponse:
    started = time.perf_counter()
    nonce = ""  # the request's nonce, echoed in the answer once the signature is verified
    body = request.body[: MAX_BODY + 1]
    headers = {k.lower(): v for k, v in request.headers.items()}
    request_id = headers.get("tambo-request-id", "")[:64] or f"unknown-{uuid.uuid4()}"
    context: dict[str, Any] = {
        "request_id": request_id,
        "consumer": "",
        "provider": "",
        "service": code[:60],
        "version": version[:20],
        "request_headers": {
            k: v for k, v in headers.items() if k not in {"cookie", "authorization"}
        },
        "request_body": body[:MAX_BODY].decode("utf-8", errors="replace"),
    }
    try:
        service = registry().service(code, version)
        if service is None or not keys.serves(service.owner):
            raise ExchangeError("unknown_service", "Este nodo no presta ese servicio.", status=404)
        context["provider"] = service.owner
        if len(body) > MAX_BODY:
            raise ExchangeError("too_large", "La solicitud es demasiado grande.", status=413)
        message = Message(request.method, request.build_absolute_uri(), headers)
        verified = verify(message, body, TAG_REQUEST, REQUEST_COMPONENTS)
        context["consumer"] = verified.agency
        nonce = verified.nonce
        payload = _payload(body, headers)
        purpose = payload["purpose"]
        context.update(
            filing_number=str(purpose["filing"])[:40],
            procedure=str(purpose["procedure"])[:60],
            legal_basis=str(purpose["legal_basis"])[:300],
        )
        query = payload["query"]
        if isinstance(query, dict) and query.get("document_number"):
            context["subject_document"] = (
                f"{query.get('document_type', '')}:{query['document_number']}"[:20]
            )
        # From here on every answer records the nonce, in the log's own transaction: a
        # replay (even one served at the same moment) gets "replayed" instead.
        context["nonce_key"] = (verified.key_id, verified.nonce)
        if service.allows(verified.agency, purpose["procedure"]) is None:
            raise ExchangeError(
                "not_authorised",
                f"{verified.agency} no está autorizada a usar {code}/{version} "
                f"para el procedimiento {purpose['procedure']}.",
                status=403,
            )
        try:
            service.check_query(query)
        except jsonschema.ValidationError as error:
            raise ExchangeError(
                "bad_query", f"Consulta no válida: {error.message}", status=422
            ) from None
        answer = HANDLERS[code](service.owner, query)
        service.check_answer(answer)  # never sign an answer that breaks the schema
        # The citizen's "who read my data" entry is written with the message log entry, in
        # the same statement: a served answer is in both, a refused replay in neither.
        access = citizen_access(query, service, verified.agency, purpose)
        return _answer(200, answer, message, nonce, context, started, access=access)
    except ExchangeError as error:
        return _answer(
            error.status,
            {"error": {"code": error.code, "message": error.message}},
            None,
            nonce,
            {**context, "outcome": error.code},
            started,
        )


def tell_the_citizen(query: Any, service: Any, consumer: str, purpose: dict[str, Any]) -> None:
    """Write the citizen's access entry at once (for a caller without a message log entry)."""
    record = citizen_access(query, service, consumer, purpose)
    if record is not None:
        access_log.write(record)


def citizen_access(
    query: Any, service: Any, consumer: str, purpose: dict[str, Any]
) -> AccessRecord | None:
    """The answer carries a citizen's data: the entry for their "who read my data" log (not
    yet written), or None if the query names no citizen known here."""
    if not isinstance(query, dict) or not query.get("document_number"):
        return None
    citizen = (
        get_user_model()
        .objects.filter(
            document_type=query.get("document_type", ""),
            document_number=query["document_number"],
        )
        .only("pk")
        .first()
    )
    if citizen is None:
        return None
    return prepare_access(
        None,
        citizen.pk,
        [("personal_data", f"{service.name} ({service.owner})")],
        agency_code=consumer,
        agency_name=consumer,
        purpose=f"{purpose['procedure']}, expediente {purpose['filing']}",
        legal_basis=purpose["legal_basis"],
        accessor_label=f"{consumer}, intercambio {service.code}/{service.version}",
    )


def _payload(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:
        raise ExchangeError("bad_request", "El cuerpo no es JSON.", status=400) from None
    purpose = payload.get("purpose") if isinstance(payload, dict) else None
    if not isinstance(purpose, dict) or not all(
        isinstance(purpose.get(k), str) and purpose.get(k)
        for k in ("filing", "procedure", "legal_basis")
    ):
        raise ExchangeError(
            "purpose_required",
            "Toda solicitud indica su finalidad: expediente, procedimiento y base legal.",
            status=400,
        )
    if json.loads(headers.get("tambo-purpose", "null") or "null") != purpose:
        raise ExchangeError("bad_request", "Tambo-Purpose no coincide con el cuerpo.", status=400)
    if "query" not in payload:
        raise ExchangeError("bad_query", "Falta la consulta (query).", status=422)
    return payload


def _answer(
    status: int,
    data: dict[str, Any],
    message: Message | None,
    nonce: str,
    context: dict[str, Any],
    started: float,
    access: AccessRecord | None = None,
) -> HttpResponse:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "content-type": "application/json",
        "tambo-request-id": context["request_id"],
        "tambo-request-nonce": nonce or "-",
    }
    if context.get("provider"):
        sign_answer(Answer(status, headers, message), body, context["provider"])
    headers = {k.lower(): v for k, v in headers.items()}
    response = HttpResponse(body, status=status, content_type="application/json")
    for name, value in headers.items():
        response[name] = value
    context = dict(context)
    nonce_key = context.pop("nonce_key", None)
    context.setdefault("outcome", "ok" if status == 200 else "error")
    written = log.write(
        nonce=nonce_key,
        access=access,
        direction="in",
        http_status=status,
        duration_ms=(time.perf_counter() - started) * 1000,
        answer_headers=headers,
        answer_body=body.decode(),
        **context,
    )
    if written is None:  # the nonce was already used: this is a replay
        error = refused("replayed", "Esta solicitud firmada ya fue atendida (nonce repetido).")
        return _answer(
            error.status,
            {"error": {"code": error.code, "message": error.message}},
            None,
            nonce,
            {**context, "outcome": error.code},
            started,
        )
    return response
