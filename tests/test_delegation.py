"""Delegations: a supervisor or signer lends a role for a period; the policy grants it only then."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from tambo.catalog.models import OrgUnit
from tambo.core import clock
from tambo.core.errors import Forbidden, ValidationFailed
from tambo.core.models import AuditEntry
from tambo.identity import delegations as actions
from tambo.identity import policy
from tambo.identity.models import Appointment, Delegation

from .conftest import login_official, make_official, procedure, token_client
from .test_backoffice import at, file_case, take

pytestmark = pytest.mark.django_db


@pytest.fixture
def gde(catalog):
    return OrgUnit.objects.get(agency__code="MDSI", code="GDE")


@pytest.fixture
def people(catalog):
    return {
        "supervisor": make_official("sup", "MDSI", ["supervisor"], ["GDE"]),
        "signer": make_official("fir", "MDSI", ["signer"], ["GDE"]),
        "delegate": make_official("dele", "MDSI", ["evaluator"], ["GDU"]),
        "desk": make_official("mesa", "MDSI", ["front_desk"], ["MP"]),
        "evaluator": make_official("eva", "MDSI", ["evaluator"], ["GDE"]),
    }


def _grant(people, gde, starts: str, ends: str, role: str = "signer", by: str = "supervisor"):
    with clock.frozen(at(starts)):
        return actions.grant_delegation(
            people[by],
            delegate=people["delegate"],
            unit=gde,
            role=role,
            starts_on=dt.date.fromisoformat(starts),
            ends_on=dt.date.fromisoformat(ends),
            reason="Vacaciones del firmante.",
        )


def _roles_on(user, filing, day: str) -> set[str]:
    policy.forget(user)
    with clock.frozen(at(day)):
        return policy.official_roles(user, filing)


def test_the_delegated_role_is_granted_only_within_the_period(citizen, people, gde):
    filing = file_case(citizen, procedure("LF-RIESGO-BAJO", "MDSI"))
    delegation = _grant(people, gde, "2026-03-02", "2026-03-06")
    entry = AuditEntry.objects.get(action="delegation.granted", object_id=str(delegation.pk))
    assert entry.data["role"] == "signer" and entry.data["ends_on"] == "2026-03-06"
    delegate = people["delegate"]
    assert _roles_on(delegate, filing, "2026-03-01") == set()
    assert _roles_on(delegate, filing, "2026-03-02") == {"signer"}
    assert _roles_on(delegate, filing, "2026-03-06") == {"signer"}
    assert _roles_on(delegate, filing, "2026-03-07") == set()


def test_a_decision_under_delegation_says_who_delegated(citizen, people, gde):
    filing = file_case(citizen, procedure("LF-RIESGO-BAJO", "MDSI"))
    _grant(people, gde, "2026-03-02", "2026-03-20")
    take(people["desk"], filing, "admit")
    take(people["evaluator"], filing, "propose", report="Conforme.")
    policy.forget(people["delegate"])
    decided = take(people["delegate"], filing, "approve", reason="Cumple los requisitos.")
    assert decided.status == "approved"
    entry = AuditEntry.objects.filter(action="filing.transition", object_id=filing.number).last()
    assert entry.data["role"] == "signer"
    assert entry.data["delegated_by"] == people["supervisor"].pk


def test_revoking_or_losing_the_appointment_ends_the_delegation(citizen, people, gde):
    filing = file_case(citizen, procedure("LF-RIESGO-BAJO", "MDSI"))
    delegation = _grant(people, gde, "2026-03-02", "2026-03-20", by="signer")
    assert _roles_on(people["delegate"], filing, "2026-03-03") == {"signer"}
    Appointment.objects.filter(user=people["signer"]).update(active=False)
    assert _roles_on(people["delegate"], filing, "2026-03-03") == set()
    Appointment.objects.filter(user=people["signer"]).update(active=True)
    with clock.frozen(at("2026-03-03")):
        actions.revoke_delegation(people["signer"], delegation.pk, "Volvió antes.")
    assert AuditEntry.objects.filter(action="delegation.revoked").count() == 1
    assert _roles_on(people["delegate"], filing, "2026-03-04") == set()


def test_who_may_delegate_what(people, gde):
    with pytest.raises(Forbidden):  # a signer may delegate signing only
        _grant(people, gde, "2026-03-02", "2026-03-06", role="evaluator", by="signer")
    with pytest.raises(Forbidden):  # an evaluator may delegate nothing
        _grant(people, gde, "2026-03-02", "2026-03-06", by="evaluator")
    _grant(people, gde, "2026-03-02", "2026-03-06")
    policy.forget(people["delegate"])
    with clock.frozen(at("2026-03-03")), pytest.raises(Forbidden):  # no re-delegation
        actions.grant_delegation(
            people["delegate"],
            delegate=people["evaluator"],
            unit=gde,
            role="signer",
            starts_on=dt.date(2026, 3, 3),
            ends_on=dt.date(2026, 3, 4),
            reason="x",
        )
    with pytest.raises(ValidationFailed) as refused:
        _grant(people, gde, "2026-03-02", "2026-01-01")
    assert "ends_on" in refused.value.errors
    assert Delegation.objects.count() == 1


def test_the_api_grants_lists_and_revokes(people, gde):
    api = token_client(people["supervisor"])
    today = clock.local_now().date()
    created = api.post(
        "/api/v1/office/delegations",
        json.dumps(
            {
                "delegate": "dele",
                "unit_id": gde.pk,
                "role": "signer",
                "starts_on": today.isoformat(),
                "ends_on": (today + dt.timedelta(days=5)).isoformat(),
                "reason": "Vacaciones.",
            }
        ),
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    listed = token_client(people["delegate"]).get("/api/v1/office/delegations").json()
    assert [d["id"] for d in listed] == [created.json()["id"]]
    queues = token_client(people["delegate"]).get("/api/v1/office/queues").json()
    assert {(q["unit_id"], q["role"]) for q in queues} >= {(gde.pk, "signer")}
    revoked = api.post(
        f"/api/v1/office/delegations/{created.json()['id']}/revoke",
        json.dumps({"reason": "Volvió."}),
        content_type="application/json",
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    queues = token_client(people["delegate"]).get("/api/v1/office/queues").json()
    assert (gde.pk, "signer") not in {(q["unit_id"], q["role"]) for q in queues}


def test_the_policy_is_cheap(citizen, people, gde, django_assert_num_queries):
    """Own objects cost no query; an official's grants cost two queries once per request."""
    filing = file_case(citizen, procedure("LF-RIESGO-BAJO", "MDSI"))
    filing = type(filing).objects.get(pk=filing.pk)
    with django_assert_num_queries(0):
        for _ in range(100):
            assert policy.allows(citizen, "filing.view", filing)
            assert policy.allows(citizen, "draft.start")
    supervisor = type(people["supervisor"]).objects.get(pk=people["supervisor"].pk)
    with django_assert_num_queries(2):
        for _ in range(100):
            assert policy.allows(supervisor, "filing.assign", filing)
            assert not policy.allows(supervisor, "filing.take", filing)


# --- The office page (server-rendered, no JavaScript) ------------------------------------


def _form(gde, **changes) -> dict[str, str]:
    today = clock.local_now().date()
    return {
        "unit_role": f"{gde.pk}:signer",
        "delegate": "dele",
        "starts_on": today.isoformat(),
        "ends_on": (today + dt.timedelta(days=5)).isoformat(),
        "reason": "Vacaciones del firmante.",
        **changes,
    }


def test_a_supervisor_grants_and_revokes_on_the_office_page(people, gde):
    web = login_official(Client(), people["supervisor"])
    page = web.get("/oficina/delegaciones/")
    body = page.content.decode()
    assert page.status_code == 200
    assert 'name="unit_role"' in body and f'value="{gde.pk}:signer"' in body
    assert 'value="dele"' in body and 'value="sup"' not in body  # not to oneself
    assert "Delegaciones" in web.get("/oficina/").content.decode()

    done = web.post("/oficina/delegaciones/", _form(gde))
    assert done.status_code == 302 and done["Location"] == "/oficina/delegaciones/"
    delegation = Delegation.objects.get()
    assert (delegation.delegator, delegation.delegate, delegation.role) == (
        people["supervisor"],
        people["delegate"],
        "signer",
    )
    assert AuditEntry.objects.filter(action="delegation.granted").count() == 1
    listed = web.get("/oficina/delegaciones/").content.decode()
    assert "Vacaciones del firmante." in listed and "Vigente" in listed
    assert f'id="revoke-{delegation.pk}"' in listed

    url = f"/oficina/delegaciones/{delegation.pk}/revocar/"
    refused = web.post(url, {"revoke_reason": "  "})
    assert refused.status_code == 422
    assert "error-summary" in refused.content.decode()
    assert f'href="#field-revoke-{delegation.pk}"' in refused.content.decode()
    delegation.refresh_from_db()
    assert delegation.revoked_at is None
    assert web.post(url, {"revoke_reason": "Volvió antes."}).status_code == 302
    delegation.refresh_from_db()
    assert delegation.revoked_at is not None
    entry = AuditEntry.objects.get(action="delegation.revoked")
    assert entry.data["reason"] == "Volvió antes." and entry.actor_id == people["supervisor"].pk
    assert "Revocada" in web.get("/oficina/delegaciones/").content.decode()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"delegate": ""}, "delegate", "Elija a quién delegar."),
        ({"starts_on": "mañana"}, "starts_on", "AAAA-MM-DD"),
        ({"ends_on": "2020-01-01"}, "ends_on", "La fecha final"),
        ({"reason": ""}, "reason", "Escriba el motivo de la delegación."),
        ({"unit_role": "999999:signer"}, "unit_role", "Elija la unidad y el rol"),
        ({"unit_role": "x"}, "unit_role", "Elija la unidad y el rol"),
    ],
)
def test_the_grant_form_shows_each_error_and_writes_nothing(people, gde, changes, field, message):
    web = login_official(Client(), people["supervisor"])
    refused = web.post("/oficina/delegaciones/", _form(gde, **changes))
    body = refused.content.decode()
    assert refused.status_code == 422
    assert 'class="error-summary"' in body and f'href="#field-{field}"' in body
    assert f'id="error-{field}"' in body and message in body
    assert Delegation.objects.count() == 0
    assert not AuditEntry.objects.filter(action="delegation.granted").exists()


def test_who_sees_the_page_and_who_gets_the_form(people, gde, citizen):
    evaluator = login_official(Client(), people["evaluator"])
    page = evaluator.get("/oficina/delegaciones/").content.decode()
    assert "No hay delegaciones" in page and 'name="unit_role"' not in page  # may not delegate
    # Posting anyway: the policy refuses (403), nothing is written.
    assert evaluator.post("/oficina/delegaciones/", _form(gde)).status_code == 403
    signer = login_official(Client(), people["signer"])
    form = signer.get("/oficina/delegaciones/").content.decode()
    assert f'value="{gde.pk}:signer"' in form and f'value="{gde.pk}:evaluator"' not in form
    # A signer may delegate signing only; asking for more is refused by the policy.
    assert (
        signer.post(
            "/oficina/delegaciones/", _form(gde, unit_role=f"{gde.pk}:evaluator")
        ).status_code
        == 403
    )
    web = Client()
    web.force_login(citizen)
    assert web.get("/oficina/delegaciones/").status_code == 404
    assert Delegation.objects.count() == 0
