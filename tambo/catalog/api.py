"""Catalogue endpoints: agencies, procedure search and procedure detail with its form schema."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest
from ninja import Router, Schema

from tambo.identity import policy

from . import queries
from .answers import json_schema
from .presenters import form_fields, procedure_page

router = Router(tags=["catalogue"])


class AgencyOut(Schema):
    code: str
    name: str
    type: str
    ruc: str
    ubigeo: str
    opening_hours: str


class ProcedureSummary(Schema):
    agency: str
    code: str
    name: str
    term_days: int
    url: str


class FieldOut(Schema):
    name: str
    type: str
    label: str
    help: str
    required: bool
    choices: list[dict[str, str]]


class RequirementOut(Schema):
    id: str
    name: str
    note: str


class ProcedureDetail(ProcedureSummary):
    version: int
    summary: str
    audience: str
    fee: Decimal | None
    approval: str
    legal_basis: list[str]
    channels: list[str]
    steps: list[str]
    requirements: list[RequirementOut]
    fields: list[FieldOut]
    answers_schema: dict[str, Any]


def _summary(p: Any) -> dict[str, Any]:
    return {
        "agency": p.agency.code,
        "code": p.code,
        "name": p.name,
        "term_days": p.current_version.term_days,
        "url": f"/api/v1/procedures/{p.agency.code}/{p.code}",
    }


@router.get("/agencies", response=list[AgencyOut], auth=None)
def list_agencies(request: HttpRequest) -> Any:
    policy.require(request.user, "catalog.view")
    return list(queries.agencies())


@router.get("/procedures", response=list[ProcedureSummary], auth=None)
def search(
    request: HttpRequest, q: str = "", agency: str | None = None, topic: str | None = None
) -> Any:
    """Search procedures; words match regardless of accents and case."""
    policy.require(request.user, "catalog.view")
    return [_summary(p) for p in queries.search_procedures(q[:200], agency=agency, topic=topic)]


@router.get("/procedures/{agency}/{code}", response=ProcedureDetail, auth=None)
def detail(request: HttpRequest, agency: str, code: str) -> Any:
    policy.require(request.user, "catalog.view")
    procedure = queries.get_procedure(agency, code)
    if procedure is None:
        raise Http404
    page = procedure_page(procedure)
    version = procedure.current_version
    return {
        **_summary(procedure),
        "version": version.number,
        "summary": page.summary,
        "audience": page.audience,
        "fee": page.fee,
        "approval": page.approval,
        "legal_basis": page.legal_basis,
        "channels": list(version.file.channels),
        "steps": page.steps,
        "requirements": [{"id": i, "name": n, "note": note} for i, n, note in page.requirements],
        "fields": [
            {
                "name": f.name,
                "type": f.type,
                "label": f.label,
                "help": f.help,
                "required": f.required,
                "choices": [{"value": v, "label": lbl} for v, lbl in f.choices],
            }
            for f in form_fields(version)
        ],
        "answers_schema": json_schema(version.file),
    }
