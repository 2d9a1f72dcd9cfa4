"""The one-INSERT ceiling endpoint, mounted only when TAMBO_BENCH_ENDPOINTS is on.

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


urlpatterns = [path("bench/insert", one_insert, name="bench-insert")]
