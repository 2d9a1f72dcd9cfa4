"""Rate limits: over the limit a clear 429 (page or JSON ``rate_limited``) with Retry-After,
nothing done; the next window (moved with tambo.core.clock) lets the client in again.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import reverse

from tambo.cases.models import Filing
from tambo.core import clock
from tambo.core.ratelimit import Limit, RateLimited, client_ip, hit

from .conftest import answers_for, without_file_field

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 15, 0, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def low_limits(settings):
    settings.TAMBO_RATE_LIMITS = {
        "login": "3/60",
        "filing": "2/60",
        "status": "3/60",
        "verify": "3/60",
    }
    cache.clear()
    yield
    cache.clear()


def test_limits_parse_and_refuse_nonsense():
    assert Limit.parse("10/60") == Limit(10, 60)
    with pytest.raises(ValueError):
        Limit.parse("0/60")


def test_the_window_counts_then_refuses_then_recovers_on_the_clock():
    with clock.frozen(T0 + dt.timedelta(seconds=15)):
        for _ in range(3):
            hit("login", "ip1.2.3.4")
        with pytest.raises(RateLimited) as info:
            hit("login", "ip1.2.3.4")
        assert info.value.retry_after == 45
        assert info.value.code == "rate_limited" and info.value.status == 429
        hit("login", "ip5.6.7.8")  # another client has its own count
    with clock.frozen(T0 + dt.timedelta(seconds=60)):
        hit("login", "ip1.2.3.4")


def test_the_client_ip_comes_from_the_trusted_proxy_header_only_when_configured(settings):
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9"
    )
    assert client_ip(request) == "10.0.0.1"
    settings.TAMBO_CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.TAMBO_TRUSTED_PROXIES = 1
    assert client_ip(request) == "203.0.113.9"  # the forged left-most entry is ignored
    settings.TAMBO_TRUSTED_PROXIES = 2
    assert client_ip(request) == "6.6.6.6"


def assert_429_page(response) -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    html = response.content.decode()
    assert "Demasiados intentos" in html and "Espere" in html
    assert "Traceback" not in html


def test_login_posts_are_limited_per_client_ip(citizen):
    client = Client()
    url = reverse("identity:login")
    with clock.frozen(T0):
        for _ in range(3):
            response = client.post(url, {"username": "rosa", "password": "wrong-password"})
            assert response.status_code == 200
        assert client.get(url).status_code == 200  # showing the form costs nothing
        response = client.post(url, {"username": "rosa", "password": "a-long-test-password"})
        assert_429_page(response)
        assert "_auth_user_id" not in client.session  # refused before any login
        other = Client(REMOTE_ADDR="192.0.2.7")
        response = other.post(url, {"username": "rosa", "password": "a-long-test-password"})
        assert response.status_code == 302
    with clock.frozen(T0 + dt.timedelta(minutes=1)):
        response = client.post(url, {"username": "rosa", "password": "a-long-test-password"})
        assert response.status_code == 302


def test_status_lookup_web_and_api_share_the_limit(client, catalog):
    with clock.frozen(T0):
        for _ in range(2):
            response = client.post(reverse("cases:status_lookup"), {"numero": "X", "codigo": "Y"})
            assert response.status_code == 422
        response = client.post(
            "/api/v1/status",
            data=json.dumps({"number": "X", "access_code": "Y"}),
            content_type="application/json",
        )
        assert response.status_code == 404
        response = client.post(
            "/api/v1/status",
            data=json.dumps({"number": "X", "access_code": "Y"}),
            content_type="application/json",
        )
        assert response.status_code == 429
        assert response["Retry-After"] == "60"
        assert response.json()["error"]["code"] == "rate_limited"
        assert_429_page(client.post(reverse("cases:status_lookup"), {"numero": "X", "codigo": "Y"}))
    with clock.frozen(T0 + dt.timedelta(seconds=61)):
        response = client.post(reverse("cases:status_lookup"), {"numero": "X", "codigo": "Y"})
        assert response.status_code == 422


def test_verification_pages_and_api_are_limited(client, catalog):
    with clock.frozen(T0):
        assert client.get(reverse("documents:verify")).status_code == 200
        assert client.get(reverse("documents:document", args=["ABCDEFGHJKMN"])).status_code == 404
        assert client.get("/api/v1/verify/ABCDEFGHJKMN").status_code == 404
        assert_429_page(client.get(reverse("documents:verify"), {"codigo": "ABCD-EFGH-JKMN"}))
        response = client.get("/api/v1/verify/ABCDEFGHJKMN")
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "rate_limited"
    with clock.frozen(T0 + dt.timedelta(seconds=60)):
        assert client.get("/api/v1/verify/ABCDEFGHJKMN").status_code == 404


def test_filing_is_limited_per_user_and_a_refused_filing_leaves_nothing(
    api, other_api, citizen, catalog
):
    proc = without_file_field(catalog)
    body = {"agency": proc.agency.code, "procedure": proc.code, "answers": answers_for(proc)}

    def file(client, key):
        return client.post(
            "/api/v1/filings",
            data=json.dumps(body),
            content_type="application/json",
            headers={"Idempotency-Key": key},
        )

    with clock.frozen(T0):
        assert file(api, "a").status_code == 201
        assert file(api, "b").status_code == 201
        refused = file(api, "c")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert Filing.objects.filter(citizen=citizen).count() == 2
        assert file(other_api, "a").status_code == 201  # per user, not per address
    with clock.frozen(T0 + dt.timedelta(seconds=60)):
        assert file(api, "c").status_code == 201


def test_web_filing_counts_against_the_same_limit(web, citizen, catalog):
    from tambo.cases import actions

    proc = without_file_field(catalog)
    with clock.frozen(T0):
        drafts = []
        for _ in range(3):
            draft = actions.start_draft(citizen, proc.current_version)
            actions.save_answers(citizen, draft.pk, answers_for(proc))
            drafts.append(draft)
        for draft in drafts[:2]:
            response = web.post(reverse("cases:review", args=[draft.pk]))
            assert response.status_code == 302
        assert_429_page(web.post(reverse("cases:review", args=[drafts[2].pk])))
        assert Filing.objects.filter(citizen=citizen).count() == 2
