"""Login with ID Gob.pe over OpenID Connect, end to end against a real OpenID provider.

The provider is the npm package ``oidc-provider`` (tests/oidc_provider/provider.mjs), run by
node on a free loopback port for this module. Tambo's side is driven with Django's test
client, the person's browser at the provider with ``requests``: every ID token checked here
was issued and signed by that provider.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import secrets
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlparse

import pytest
import requests
from django.test import Client

from tambo.core import clock
from tambo.core.models import AuditEntry
from tambo.identity import oidc
from tambo.identity.models import User

from .conftest import make_citizen, make_official

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc_provider"
CALLBACK = "http://testserver/ingresar/idgob/retorno/"
ACCOUNTS = {
    "rosa.quispe": {
        "password": "clave-en-el-proveedor",
        "claims": {
            "dni": "44556677",
            "given_name": "Rosa",
            "family_name": "Quispe Mamani",
            "email": "rosa@example.pe",
            "email_verified": True,
        },
    },
    "sin.dni": {"password": "clave-en-el-proveedor", "claims": {"given_name": "Sin"}},
}
# Rosa again, under accounts for which the provider replaces the ID token it sends Tambo
# (``id_token`` in tests/oidc_provider/provider.mjs): each breaks one check, and only that.
MISBEHAVING = {
    "rosa.otro-cliente": {"issued_to": "otro-servicio"},
    "rosa.dos-audiencias": {"claims": {"aud": ["tambo", "otro-servicio"], "azp": "otro-servicio"}},
    "rosa.azp-tambo": {"claims": {"aud": ["otro-servicio", "tambo"], "azp": "tambo"}},
    "rosa.otro-emisor": {"claims": {"iss": "https://idp-falso.example"}},
    "rosa.sin-sub": {"claims": {"sub": None}},
    "rosa.sin-nonce": {"claims": {"nonce": None}},
    "rosa.hs256": {"alg": "HS256"},
    "rosa.sin-firma": {"alg": "none"},
    "rosa.otra-clave": {"stranger": True},
    "rosa.alterado": {"tamper": True},
}
for _name, _spec in MISBEHAVING.items():
    ACCOUNTS[_name] = {**ACCOUNTS["rosa.quispe"], "id_token": _spec}
ID_TOKEN_TTL = 300


@pytest.fixture(scope="module")
def provider():
    """A running OpenID provider with Tambo's client and a second, unrelated client."""
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError("run `make install` (npm ci in tests/oidc_provider) first")
    setup = {
        "clients": [
            {"client_id": "tambo", "client_secret": "tambo-secret", "redirect_uris": [CALLBACK]},
            {
                "client_id": "otro-servicio",
                "client_secret": "otro-secret",
                "redirect_uris": ["http://otro.example/retorno"],
            },
        ],
        "accounts": ACCOUNTS,
        "id_token_ttl": ID_TOKEN_TTL,
    }
    process = subprocess.Popen(
        ["node", "provider.mjs"],
        cwd=PROVIDER_DIR,
        env={**os.environ, "TAMBO_TEST_OIDC": json.dumps(setup)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the test OpenID provider did not start")
        yield json.loads(line)["issuer"]
    finally:
        process.stdin.close()
        process.stdout.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def idgob(provider, settings, db):
    settings.TAMBO_OIDC_ISSUER = provider
    settings.TAMBO_OIDC_CLIENT_ID = "tambo"
    settings.TAMBO_OIDC_CLIENT_SECRET = "tambo-secret"
    settings.TAMBO_OIDC_SCOPES = "openid profile email dni"
    settings.TAMBO_OIDC_DOCUMENT_CLAIM = "dni"
    return provider


def sign_in_at_provider(authorization_url: str, account: str, redirect_prefix: str) -> str:
    """What the person's browser does at the provider: follow redirects, fill in the sign-in
    form, until the provider sends the browser back to the client; returns that URL."""
    browser = requests.Session()
    url = authorization_url
    for _ in range(10):
        response = browser.get(url, allow_redirects=False, timeout=10)
        if response.status_code == 200 and "/interaction/" in url:
            response = browser.post(
                url,
                data={"login": account, "password": ACCOUNTS[account]["password"]},
                allow_redirects=False,
                timeout=10,
            )
        assert response.status_code in (302, 303), response.text[:500]
        url = urljoin(url, response.headers["Location"])
        if url.startswith(redirect_prefix):
            return url
    raise AssertionError("the provider never sent the browser back")


def start(client: Client, next_url: str = "") -> str:
    response = client.get("/ingresar/idgob/" + (f"?next={next_url}" if next_url else ""))
    assert response.status_code == 302, response.content.decode()[:500]
    return response["Location"]


def back_to_tambo(client: Client, callback_url: str):
    parts = urlparse(callback_url)
    return client.get(parts.path, parse_qs(parts.query))


def refusals() -> list[str]:
    return [e.data["reason"] for e in AuditEntry.objects.filter(action="login.oidc_refused")]


def test_login_page_offers_idgob_only_when_configured(client, db, settings):
    settings.TAMBO_OIDC_ISSUER = ""
    assert "Ingresar con ID Gob.pe" not in client.get("/ingresar/").content.decode()
    assert client.get("/ingresar/idgob/").status_code == 404
    settings.TAMBO_OIDC_ISSUER = "https://idp.example"
    settings.TAMBO_OIDC_CLIENT_ID = "tambo"
    assert "Ingresar con ID Gob.pe" in client.get("/ingresar/").content.decode()


def test_a_citizen_logs_in_with_idgob_and_is_known_by_dni(client, idgob):
    # Someone else already uses the same e-mail address: e-mail proves nothing.
    make_citizen("homonima", "40111222").__class__.objects.filter(username="homonima").update(
        email="rosa@example.pe"
    )
    authorization_url = start(client, "/casilla/")
    query = parse_qs(urlparse(authorization_url).query)
    assert authorization_url.startswith(idgob)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0] and query["response_type"] == ["code"]

    callback = sign_in_at_provider(authorization_url, "rosa.quispe", CALLBACK)
    done = back_to_tambo(client, callback)
    assert done.status_code == 302 and done["Location"] == "/casilla/"
    user = User.objects.get(document_type="dni", document_number="44556677")
    assert (user.first_name, user.last_name) == ("Rosa", "Quispe Mamani")
    assert not user.has_usable_password()
    assert client.get("/mis-expedientes/").status_code == 200
    assert AuditEntry.objects.filter(action="account.created_by_oidc").count() == 1

    # The second time the same account is found, not a new one made.
    again = Client()
    back_to_tambo(again, sign_in_at_provider(start(again), "rosa.quispe", CALLBACK))
    assert User.objects.filter(document_number="44556677").count() == 1
    assert again.get("/mis-expedientes/").status_code == 200
    # A callback can be used once only.
    replay = back_to_tambo(Client(), callback)
    assert replay.status_code == 400


def test_a_wrong_nonce_is_refused_and_nothing_is_created(client, idgob):
    authorization_url = start(client)
    session = client.session
    session[oidc.SESSION_KEY]["nonce"] = secrets.token_urlsafe(32)
    session.save()
    refused = back_to_tambo(client, sign_in_at_provider(authorization_url, "rosa.quispe", CALLBACK))
    assert refused.status_code == 400
    assert "No pudimos confirmar su identidad" in refused.content.decode()
    assert not User.objects.filter(document_number="44556677").exists()
    assert client.get("/mis-expedientes/").status_code == 302
    assert refusals() == ["nonce_mismatch"]


def test_an_expired_id_token_is_refused(client, idgob):
    authorization_url = start(client)
    callback = sign_in_at_provider(authorization_url, "rosa.quispe", CALLBACK)
    # The token lives ID_TOKEN_TTL seconds (plus Tambo's leeway); Tambo's clock is past that.
    with clock.frozen(clock.now() + dt.timedelta(seconds=ID_TOKEN_TTL + 120)):
        refused = back_to_tambo(client, callback)
    assert refused.status_code == 400
    assert not User.objects.filter(document_number="44556677").exists()
    assert refusals() == ["expired_token"]


def test_an_id_token_for_another_client_is_refused(idgob, db):
    """A real token the provider issued to another client (its ``aud``) must not log anyone
    into Tambo, even with the right nonce and a valid signature."""
    nonce = secrets.token_urlsafe(16)
    verifier = secrets.token_urlsafe(48)
    import base64
    import hashlib

    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    metadata = requests.get(f"{idgob}/.well-known/openid-configuration", timeout=10).json()
    authorization_url = (
        requests.Request(
            "GET",
            metadata["authorization_endpoint"],
            params={
                "client_id": "otro-servicio",
                "response_type": "code",
                "scope": "openid dni",
                "redirect_uri": "http://otro.example/retorno",
                "state": "s",
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        .prepare()
        .url
    )
    callback = sign_in_at_provider(authorization_url, "rosa.quispe", "http://otro.example/")
    code = parse_qs(urlparse(callback).query)["code"][0]
    tokens = requests.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://otro.example/retorno",
            "code_verifier": verifier,
        },
        auth=("otro-servicio", "otro-secret"),
        timeout=10,
    ).json()
    jwks = requests.get(metadata["jwks_uri"], timeout=10).json()
    tambo = oidc.config()

    with pytest.raises(oidc.OidcError) as refused:
        oidc.verify_id_token(tambo, tokens["id_token"], jwks, nonce)
    assert refused.value.reason == "wrong_audience"
    # The same token passes for the client it was issued to: the refusal is the audience.
    other = oidc.OidcConfig(**{**tambo.__dict__, "client_id": "otro-servicio"})
    assert oidc.verify_id_token(other, tokens["id_token"], jwks, nonce)["dni"] == "44556677"


def test_a_tampered_state_is_refused(client, idgob):
    authorization_url = start(client)
    callback = sign_in_at_provider(authorization_url, "rosa.quispe", CALLBACK)
    refused = back_to_tambo(client, callback.replace("state=", "state=x"))
    assert refused.status_code == 400
    assert not User.objects.filter(document_number="44556677").exists()
    assert refusals() == ["state_mismatch"]


def test_a_token_without_a_dni_is_refused(client, idgob):
    refused = back_to_tambo(client, sign_in_at_provider(start(client), "sin.dni", CALLBACK))
    assert refused.status_code == 400
    assert "número de documento" in refused.content.decode()
    assert refusals() == ["missing_document"]
    assert User.objects.count() == 0


def test_provider_down_is_a_clear_page(client, db, settings):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.TAMBO_OIDC_ISSUER = f"http://127.0.0.1:{port}"
    settings.TAMBO_OIDC_CLIENT_ID = "tambo"
    refused = client.get("/ingresar/idgob/")
    body = refused.content.decode()
    assert refused.status_code == 502
    assert "No pudimos comunicarnos con ID Gob.pe" in body
    assert "Traceback" not in body and "127.0.0.1" not in body
    assert refusals() == ["provider_unavailable"]


def test_an_official_logging_in_with_idgob_still_needs_the_second_factor(client, idgob, catalog):
    official = make_official("mesa", "MDSI", ["front_desk"], ["MP"])
    User.objects.filter(pk=official.pk).update(document_type="dni", document_number="44556677")
    done = back_to_tambo(client, sign_in_at_provider(start(client), "rosa.quispe", CALLBACK))
    assert done["Location"].startswith("/ingresar/segundo-factor/")
    assert client.get("/oficina/").status_code == 302


def start_at_the_login_page(client: Client) -> str:
    """What a person does: open Tambo's login page and press "Ingresar con ID Gob.pe"."""
    page = client.get("/ingresar/")
    assert page.status_code == 200
    link = re.search(r'id="oidc-login" href="([^"]+)"', page.content.decode())
    assert link, "the login page offers ID Gob.pe"
    response = client.get(html.unescape(link.group(1)))
    assert response.status_code == 302
    return response["Location"]


def assert_refused_without_a_session(client: Client, refused, reason: str) -> None:
    body = refused.content.decode()
    assert refused.status_code == 400
    assert "No pudimos confirmar su identidad con ID Gob.pe" in body
    assert "Traceback" not in body and reason not in body
    assert "_auth_user_id" not in client.session
    assert client.get("/mis-expedientes/")["Location"].startswith("/ingresar/")
    assert not User.objects.filter(document_number="44556677").exists()
    assert refusals() == [reason]
    assert not AuditEntry.objects.filter(action__in=["login.succeeded", "account.created_by_oidc"])


def test_a_login_that_receives_a_token_issued_to_another_client_is_refused(client, idgob):
    """The whole flow from Tambo's login page: the provider answers Tambo's code with an ID
    token it issued (its own model, its own key) to ``otro-servicio`` for the same person and
    nonce, as in a token substitution. Tambo refuses it for its audience, logs nobody in."""
    authorization_url = start_at_the_login_page(client)
    callback = sign_in_at_provider(authorization_url, "rosa.otro-cliente", CALLBACK)
    refused = back_to_tambo(client, callback)
    assert_refused_without_a_session(client, refused, "wrong_audience")


@pytest.mark.parametrize(
    ("account", "reason"),
    [
        ("rosa.dos-audiencias", "wrong_audience"),  # Tambo among several, azp another client
        ("rosa.otro-emisor", "invalid_claims"),  # iss is not the configured issuer
        ("rosa.sin-sub", "invalid_claims"),
        ("rosa.sin-nonce", "nonce_mismatch"),
        ("rosa.hs256", "bad_signature"),  # HS256 with the client secret: algorithm confusion
        ("rosa.sin-firma", "bad_signature"),  # alg "none"
        ("rosa.otra-clave", "bad_signature"),  # a key the provider never published
        ("rosa.alterado", "bad_signature"),  # the DNI changed after signing
    ],
)
def test_each_id_token_check_refuses_through_the_whole_login(client, idgob, account, reason):
    authorization_url = start_at_the_login_page(client)
    refused = back_to_tambo(client, sign_in_at_provider(authorization_url, account, CALLBACK))
    assert_refused_without_a_session(client, refused, reason)


def test_several_audiences_are_accepted_when_tambo_is_the_authorized_party(client, idgob):
    """The control for the row above: the same re-signed token with ``azp`` = Tambo logs in,
    so the refusals come from the claim each one changes, not from the re-signing."""
    authorization_url = start_at_the_login_page(client)
    done = back_to_tambo(client, sign_in_at_provider(authorization_url, "rosa.azp-tambo", CALLBACK))
    assert done.status_code == 302, done.content.decode()[:500]
    assert client.get("/mis-expedientes/").status_code == 200
    assert refusals() == []


def test_a_token_issued_in_the_future_is_refused(client, idgob):
    """Tambo's clock behind the provider's by more than the leeway: ``iat`` is in the future."""
    authorization_url = start_at_the_login_page(client)
    callback = sign_in_at_provider(authorization_url, "rosa.quispe", CALLBACK)
    with clock.frozen(clock.now() - dt.timedelta(seconds=oidc.config().leeway + 120)):
        refused = back_to_tambo(client, callback)
    assert_refused_without_a_session(client, refused, "invalid_claims")
