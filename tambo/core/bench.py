"""Ceiling endpoints (one INSERT; an exchange service unsigned), mounted only when
TAMBO_BENCH_ENDPOINTS is on.

bench/ compares filing throughput with this endpoint on the same server set-up, so
the ratio tells how much the filing itself costs beyond one round trip and insert.
"""

import json

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import clock
from .models import BenchInsert


@csrf_exempt
@require_POST
def one_insert(request: HttpRequest) -> JsonResponse:
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": {"code": "invalid_json"}}, status=400)
    row = BenchInsert.objects.create(at=clock.now(), payload=payload)
    return JsonResponse({"id": row.pk}, status=201)


@csrf_exempt
@require_POST
def unsigned_service(request: HttpRequest, code: str, version: str) -> JsonResponse:
    """The exchange service's handler without signatures, access checks or logs.

    bench/bench_exchange.py compares the signed endpoint's throughput with this one, so
    the ratio is the cost of the protocol (signing, verifying, nonce row, logs).
    """
    import jsonschema

    from tambo.exchange.registry import registry
    from tambo.exchange.services import HANDLERS

    service = registry().service(code, version)
    if service is None or code not in HANDLERS:
        return JsonResponse({"error": {"code": "unknown_service"}}, status=404)
    try:
        query = json.loads(request.body)["query"]
        jsonschema.validate(query, service.request)
    except (ValueError, KeyError, TypeError, jsonschema.ValidationError):
        return JsonResponse({"error": {"code": "bad_query"}}, status=422)
    answer = HANDLERS[code](service.owner, query)
    jsonschema.validate(answer, service.response)
    return JsonResponse(answer)


urlpatterns = [
    path("bench/insert", one_insert, name="bench-insert"),
    path("bench/x/<str:code>/<str:version>", unsigned_service, name="bench-unsigned-service"),
]
