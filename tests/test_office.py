"""Work queues ordered by deadline with keyset pagination, the office pages and the office API."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tambo.cases import office_queries as oq
from tambo.cases.models import Filing

from .conftest import login_official, make_official, procedure, token_client
from .test_backoffice import file_case, take

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(catalog):
    return make_official("mesa", "MDSI", ["front_desk"], ["MP"])


def test_the_front_desk_queue_is_ordered_by_deadline_and_paginated_by_key(citizen, desk, catalog):
    info = procedure("ACCESO-INFORMACION", "MDSI")
    licence = procedure("LF-RIESGO-BAJO", "MDSI")
    filings = [
        file_case(citizen, proc, day)
        for proc, day in [
            (info, "2026-03-02"),
            (licence, "2026-03-02"),
            (info, "2026-03-03"),
            (licence, "2026-03-04"),
            (info, "2026-03-05"),
        ]
    ]
    queue = oq.get_queue(desk, desk.appointments.get().unit_id, "front_desk")
    first, cursor = oq.page(queue, limit=2, today=dt.date(2026, 3, 6))
    second, cursor2 = oq.page(
        queue, limit=2, after=oq.parse_cursor(cursor), today=dt.date(2026, 3, 6)
    )
    third, cursor3 = oq.page(
        queue, limit=2, after=oq.parse_cursor(cursor2), today=dt.date(2026, 3, 6)
    )
    seen = [f.number for f in first + second + third]
    expected = [f.number for f in sorted(filings, key=lambda f: (f.due_on, f.pk))]
    assert seen == expected
    assert cursor3 is None
    only_info, _ = oq.page(queue, procedure="ACCESO-INFORMACION", today=dt.date(2026, 3, 6))
    assert {f.procedure_version.procedure.code for f in only_info} == {"ACCESO-INFORMACION"}


def test_deadline_lights_and_their_filter(citizen, desk, catalog):
    licence = procedure("LF-RIESGO-BAJO", "MDSI")
    filing = file_case(citizen, licence, "2026-03-02")
    queue = oq.get_queue(desk, desk.appointments.get().unit_id, "front_desk")
    for day, light in [
        (dt.date(2026, 3, 2), "on_time"),
        (filing.due_soon_on, "due_soon"),
        (filing.due_on + dt.timedelta(days=1), "overdue"),
    ]:
        assert oq.deadline_light(filing, day) == light
        rows, _ = oq.page(queue, light=light, today=day)
        assert [f.number for f in rows] == [filing.number]


def test_office_pages_show_the_queue_and_refuse_a_wrong_transition_with_409(
    client, citizen, desk, catalog
):
    filing = file_case(citizen, procedure("LF-RIESGO-BAJO", "MDSI"))
    login_official(client, desk)
    unit_id = desk.appointments.get().unit_id
    home = client.get("/oficina/")
    assert home.status_code == 200
    page = client.get(f"/oficina/bandeja/{unit_id}/front_desk/").content.decode()
    assert filing.number in page
    case = client.get(f"/oficina/expedientes/{filing.number}/").content.decode()
    assert "Observar" in case and "Admitir" in case
    refused = client.post(f"/oficina/expedientes/{filing.number}/accion/approve/", {"reason": "x"})
    assert refused.status_code == 409
    assert "No se puede" in refused.content.decode()
    missing = client.post(f"/oficina/expedientes/{filing.number}/accion/observe/", {"reason": ""})
    assert missing.status_code == 422
    assert "Escriba el motivo" in missing.content.decode()
    done = client.post(
        f"/oficina/expedientes/{filing.number}/accion/observe/",
        {"reason": "Falta el plano", "lock_version": "0"},
    )
    assert done.status_code == 302
    assert Filing.objects.get(pk=filing.pk).status == "observed"


def test_citizens_and_other_agencies_cannot_see_office_pages(
    client, citizen, other_citizen, catalog
):
    filing = file_case(citizen, procedure("LF-RIESGO-BAJO", "MDSI"))
    outsider = make_official("ajeno", "MTC", ["front_desk", "supervisor"])
    for user in (citizen, other_citizen, outsider):
        client.logout()
        if user is outsider:
            login_official(client, user)
        else:
            client.force_login(user)
        assert client.get(f"/oficina/expedientes/{filing.number}/").status_code == 404
        assert client.post(f"/oficina/expedientes/{filing.number}/accion/admit/").status_code == 404
    client.force_login(citizen)
    assert client.get("/oficina/").status_code == 404


def test_office_api_queue_and_transition_errors(citizen, desk, catalog):
    filing = file_case(citizen, procedure("LF-RIESGO-BAJO", "MDSI"))
    api = token_client(desk)
    queues = api.get("/api/v1/office/queues").json()
    assert queues[0]["role"] == "front_desk" and queues[0]["open"] == 1
    page = api.get(queues[0]["url"]).json()
    assert [i["number"] for i in page["items"]] == [filing.number]
    bad = api.get(queues[0]["url"], {"light": "purple"})
    assert bad.status_code == 422
    url = f"/api/v1/filings/{filing.number}/transitions"
    wrong_state = api.post(
        f"{url}/approve", data=json.dumps({"reason": "x"}), content_type="application/json"
    )
    assert wrong_state.status_code == 409
    assert wrong_state.json()["error"]["code"] == "transition_not_allowed"
    citizen_api = token_client(citizen)
    wrong_role = citizen_api.post(f"{url}/admit", data="{}", content_type="application/json")
    assert wrong_role.status_code == 403
    ok = api.post(
        f"{url}/admit", data=json.dumps({"expected_version": 0}), content_type="application/json"
    )
    assert ok.status_code == 200, ok.content
    assert ok.json()["status"] == "in_evaluation"
    stale = api.post(
        f"{url}/observe",
        data=json.dumps({"reason": "x", "expected_version": 0}),
        content_type="application/json",
    )
    assert stale.status_code == 409


def test_citizen_reads_the_casilla_unread_first_and_reading_is_recorded(
    client, citizen, desk, catalog
):
    filing = file_case(citizen, procedure("LF-RIESGO-BAJO", "MDSI"))
    take(desk, filing, "observe", reason="Falta la firma.")
    client.force_login(citizen)
    inbox = client.get("/casilla/").content.decode()
    assert "Sin leer" in inbox
    api = token_client(citizen)
    notices = api.get("/api/v1/inbox").json()
    assert len(notices) == 1 and notices[0]["read_at"] is None
    page = client.get(f"/casilla/{notices[0]['id']}/")
    assert "Falta la firma." in page.content.decode()
    assert api.get("/api/v1/inbox").json()[0]["read_at"] is not None
    from tambo.core.models import AuditEntry

    assert (
        AuditEntry.objects.filter(action="notice.read", object_id=str(notices[0]["id"])).count()
        == 1
    )
    other = token_client(make_official("x", "MDSI", ["evaluator"]))
    assert other.post(f"/api/v1/inbox/{notices[0]['id']}/read").status_code == 404
