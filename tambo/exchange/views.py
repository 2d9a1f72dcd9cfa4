"""The exchange's HTTP surface: the registry, each service's OpenAPI, the service endpoint.

These are called by other agencies' nodes, not by people: authentication is the RFC 9421
signature checked in :mod:`provider` (not a session), so CSRF does not apply.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from tambo.identity import policy

from . import provider
from .registry import registry


@require_GET
def registry_view(request: HttpRequest) -> JsonResponse:
    """The registry as JSON: agencies, nodes, public keys, services (public, like X-Road's
    global configuration)."""
    policy.require(request.user, "exchange.registry")
    return JsonResponse(registry().model_dump(mode="json"))


@require_GET
def openapi_view(request: HttpRequest, code: str, version: str) -> JsonResponse:
    policy.require(request.user, "exchange.registry")
    service = registry().service(code, version)
    if service is None:
        raise Http404
    return JsonResponse(service.openapi())


@csrf_exempt
@require_POST
def service_view(request: HttpRequest, code: str, version: str) -> HttpResponse:
    # Who may call is decided by the signature and the registry's access rules (provider.serve).
    policy.require(request.user, "exchange.call")
    return provider.serve(request, code, version)
