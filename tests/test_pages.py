"""Every public page renders for every agency and procedure; the admin shows the catalogue."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tambo.catalog.models import Agency, Topic

pytestmark = pytest.mark.django_db


def test_every_procedure_page_says_who_what_cost_term_and_how_in_that_order(client, catalog):
    for proc in catalog:
        response = client.get(reverse("catalog:procedure", args=[proc.agency.code, proc.code]))
        assert response.status_code == 200, proc
        html = response.content.decode()
        order = [
            html.index(h)
            for h in (
                "Para quién es",
                "Qué necesita",
                "Cuánto cuesta",
                "Cuánto demora",
                "Cómo hacerlo",
            )
        ]
        assert order == sorted(order), proc


def test_the_catalogue_is_browsable_by_agency_and_by_topic(client, catalog):
    home = client.get("/").content.decode()
    for agency in Agency.objects.all():
        assert agency.name in home
        page = client.get(reverse("catalog:agency", args=[agency.code])).content.decode()
        for proc in catalog.filter(agency=agency):
            assert proc.name in page
    for topic in Topic.objects.all():
        page = client.get(reverse("catalog:search"), {"tema": topic.slug}).content.decode()
        for proc in topic.procedures.all():
            assert proc.name in page


def test_search_ignores_accents_and_case(client, catalog):
    plain = client.get(reverse("catalog:search"), {"q": "informacion publica"}).content.decode()
    accented = client.get(reverse("catalog:search"), {"q": "INFORMACIÓN Pública"}).content.decode()
    assert "información pública" in plain.lower()
    assert plain.count('class="result"') == accented.count('class="result"') > 0


def test_unknown_pages_get_the_404_page(client, catalog):
    assert client.get("/tramites/NOPE/NADA/").status_code == 404
    assert client.get("/entidades/NOPE/").status_code == 404


def test_the_admin_shows_agencies_procedures_and_their_versions(admin_client, catalog):
    assert admin_client.get("/admin/catalog/procedure/").status_code == 200
    proc = catalog.first()
    assert admin_client.get(f"/admin/catalog/procedure/{proc.pk}/change/").status_code == 200
    assert (
        admin_client.get(
            f"/admin/catalog/procedureversion/{proc.current_version.pk}/change/"
        ).status_code
        == 200
    )
    assert admin_client.get("/admin/catalog/agency/").status_code == 200
    assert admin_client.get("/admin/cases/filing/").status_code == 200
    assert admin_client.get("/admin/core/auditentry/").status_code == 200


def test_the_admin_lets_supervisors_see_appointments_notices_and_documents(admin_client, catalog):
    for url in [
        "/admin/identity/appointment/",
        "/admin/identity/user/",
        "/admin/inbox/notice/",
        "/admin/documents/issueddocument/",
        "/admin/catalog/orgunit/",
    ]:
        assert admin_client.get(url).status_code == 200, url
