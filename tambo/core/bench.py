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
    """The exchange service's endpoint without the protocol: no signatures, nonce, access
    rule, message log or audit entries.

    bench/bench_exchange.py sends it the same body as the signed endpoint and compares the
    throughputs, so the ratio is the cost of the protocol alone: it does everything else
    the signed endpoint does (parse the body, check the query, run the handler, check the
    answer, record the citizen's "who read my data" entry, answer JSON).
    """
    import jsonschema

    from tambo.exchange.provider import tell_the_citizen
    from tambo.exchange.registry import registry
    from tambo.exchange.services import HANDLERS

    service = registry().service(code, version)
    if service is None or code not in HANDLERS:
        return JsonResponse({"error": {"code": "unknown_service"}}, status=404)
    try:
        payload = json.loads(request.body)
        query, purpose = payload["query"], payload["purpose"]
        service.check_query(query)
    except (ValueError, KeyError, TypeError, jsonschema.ValidationError):
        return JsonResponse({"error": {"code": "bad_query"}}, status=422)
    answer = HANDLERS[code](service.owner, query)
    service.check_answer(answer)
    tell_the_citizen(query, service, "BENCH", purpose)
    return JsonResponse(answer)


urlpatterns = [
    path("bench/insert", one_insert, name="bench-insert"),
    path("bench/x/<str:code>/<str:version>", unsigned_service, name="bench-unsigned-service"),
]
