"""Public catalogue pages: search, agencies, topics, and each procedure's page."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from tambo.identity import policy

from . import queries
from .presenters import procedure_page


def home(request: HttpRequest) -> HttpResponse:
    policy.require(request.user, "catalog.view")
    return render(
        request,
        "catalog/home.html",
        {
            "agencies": queries.agencies(),
            "topics": queries.topics_in_use(),
        },
    )


def search(request: HttpRequest) -> HttpResponse:
    policy.require(request.user, "catalog.view")
    query = request.GET.get("q", "")[:200]
    agency = request.GET.get("entidad") or None
    topic = request.GET.get("tema") or None
    results = queries.search_procedures(query, agency=agency, topic=topic)
    return render(
        request,
        "catalog/search.html",
        {
            "query": query,
            "results": results,
            "agency": agency,
            "topic": topic,
            "agencies": queries.agencies(),
            "topics": queries.topics_in_use(),
        },
    )


def agency_detail(request: HttpRequest, code: str) -> HttpResponse:
    policy.require(request.user, "catalog.view")
    agency = queries.get_agency(code)
    if agency is None:
        raise Http404
    return render(
        request,
        "catalog/agency.html",
        {
            "agency": agency,
            "procedures": queries.search_procedures(agency=code, limit=500),
        },
    )


def procedure_detail(request: HttpRequest, agency: str, code: str) -> HttpResponse:
    policy.require(request.user, "catalog.view")
    procedure = queries.get_procedure(agency, code)
    if procedure is None:
        raise Http404
    return render(request, "catalog/procedure.html", {"p": procedure_page(procedure)})
