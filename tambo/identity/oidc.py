"""Login through a national identity provider over OpenID Connect (ID Gob.pe works this way).

Authorization code flow with PKCE (S256), ``state`` and ``nonce``. Authlib's OAuth2Session
builds the authorization URL (with the code challenge) and redeems the code; the ID token is
verified with joserfc (Authlib's JOSE library) against the provider's JWKS from its discovery
document: signature, ``iss``, ``aud`` (and ``azp`` when there are several audiences), ``exp``,
``iat`` and ``nonce``, with "now" from ``tambo.core.clock``. The person's identity document
number is read from a configurable claim.

Everything is configured from the environment (``TAMBO_OIDC_*``, see ``docs/identity.md``);
without an issuer only local accounts are offered.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from django.conf import settings
from django.utils.crypto import constant_time_compare
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from tambo.core import clock

from .actions import VerifiedIdentity

SESSION_KEY = "tambo_oidc"
ALGORITHMS = ["RS256", "PS256", "ES256"]
TIMEOUT = 10


class OidcError(Exception):
    """A refused OpenID Connect login; ``reason`` is a stable code shown and audited."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    document_claim: str
    document_type: str
    leeway: int


def config() -> OidcConfig | None:
    """The provider's configuration, or None when Tambo uses local accounts only."""
    issuer = settings.TAMBO_OIDC_ISSUER
    if not issuer or not settings.TAMBO_OIDC_CLIENT_ID:
        return None
    return OidcConfig(
        issuer=issuer.rstrip("/"),
        client_id=settings.TAMBO_OIDC_CLIENT_ID,
        client_secret=settings.TAMBO_OIDC_CLIENT_SECRET,
        scopes=settings.TAMBO_OIDC_SCOPES,
        document_claim=settings.TAMBO_OIDC_DOCUMENT_CLAIM,
        document_type=settings.TAMBO_OIDC_DOCUMENT_TYPE,
        leeway=settings.TAMBO_OIDC_LEEWAY_SECONDS,
    )


def _get_json(url: str) -> dict[str, Any]:
    try:
        response = requests.get(url, timeout=TIMEOUT)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as exc:
        raise OidcError("provider_unavailable", str(exc)) from exc


def discovery(cfg: OidcConfig) -> dict[str, Any]:
    """The provider's discovery document; its issuer must be the configured one."""
    document = _get_json(f"{cfg.issuer}/.well-known/openid-configuration")
    if str(document.get("issuer", "")).rstrip("/") != cfg.issuer:
        raise OidcError("provider_misconfigured", "issuer in discovery differs")
    return document


def _session(cfg: OidcConfig, redirect_uri: str) -> OAuth2Session:
    return OAuth2Session(
        client_id=cfg.client_id,
        client_secret=cfg.client_secret,
        scope=cfg.scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
    )


def begin(cfg: OidcConfig, redirect_uri: str, session: Any, next_url: str) -> str:
    """Store state, nonce and PKCE verifier in the session; return the provider's login URL."""
    metadata = discovery(cfg)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    with _session(cfg, redirect_uri) as client:
        url, _state = client.create_authorization_url(
            metadata["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
        )
    session[SESSION_KEY] = {
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "next": next_url,
        "redirect_uri": redirect_uri,
    }
    return url


def complete(cfg: OidcConfig, params: dict[str, str], session: Any) -> tuple[VerifiedIdentity, str]:
    """Check the callback, redeem the code, verify the ID token; return who it is and ``next``.

    The pending login is removed from the session whatever happens, so a callback can be
    used once only.
    """
    pending = session.pop(SESSION_KEY, None)
    if not pending:
        raise OidcError("no_pending_login")
    if not constant_time_compare(params.get("state", ""), pending["state"]):
        raise OidcError("state_mismatch")
    if params.get("error"):
        raise OidcError("provider_refused", params["error"])
    if not params.get("code"):
        raise OidcError("missing_code")
    metadata = discovery(cfg)
    with _session(cfg, pending["redirect_uri"]) as client:
        try:
            token = client.fetch_token(
                metadata["token_endpoint"],
                grant_type="authorization_code",
                code=params["code"],
                code_verifier=pending["verifier"],
                timeout=TIMEOUT,
            )
        except requests.RequestException as exc:
            raise OidcError("provider_unavailable", str(exc)) from exc
        except Exception as exc:  # Authlib raises OAuthError for an error answer
            raise OidcError("token_refused", str(exc)) from exc
    raw = token.get("id_token")
    if not raw:
        raise OidcError("missing_id_token")
    keys = _get_json(metadata["jwks_uri"])
    claims = verify_id_token(cfg, raw, keys, pending["nonce"])
    return identity_from_claims(cfg, claims), pending["next"]


def verify_id_token(cfg: OidcConfig, raw: str, jwks: dict[str, Any], nonce: str) -> dict[str, Any]:
    """The ID token's claims, after checking signature, issuer, audience, times and nonce."""
    try:
        token = jwt.decode(raw, KeySet.import_key_set(jwks), algorithms=ALGORITHMS)
    except (JoseError, ValueError) as exc:
        raise OidcError("bad_signature", str(exc)) from exc
    claims = token.claims
    registry = jwt.JWTClaimsRegistry(
        now=int(clock.now().timestamp()),
        leeway=cfg.leeway,
        iss={"essential": True, "value": cfg.issuer},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        name = getattr(exc, "error", "")
        reason = "expired_token" if name == "expired_token" else "invalid_claims"
        raise OidcError(reason, str(exc)) from exc
    audiences = claims.get("aud")
    audiences = [audiences] if isinstance(audiences, str) else list(audiences or [])
    if cfg.client_id not in audiences or (
        len(audiences) > 1 and claims.get("azp") != cfg.client_id
    ):
        raise OidcError("wrong_audience")
    if not constant_time_compare(str(claims.get("nonce", "")), nonce):
        raise OidcError("nonce_mismatch")
    return claims


def identity_from_claims(cfg: OidcConfig, claims: dict[str, Any]) -> VerifiedIdentity:
    """The person's identity document from the configured claim (8 digits for a DNI)."""
    number = str(claims.get(cfg.document_claim) or "").strip()
    if cfg.document_type == "dni" and not (len(number) == 8 and number.isdigit()):
        raise OidcError("missing_document")
    if not number or len(number) > 12:
        raise OidcError("missing_document")
    return VerifiedIdentity(
        issuer=cfg.issuer,
        subject=str(claims["sub"]),
        document_type=cfg.document_type,
        document_number=number,
        first_name=str(claims.get(settings.TAMBO_OIDC_GIVEN_NAME_CLAIM) or ""),
        last_name=str(claims.get(settings.TAMBO_OIDC_FAMILY_NAME_CLAIM) or ""),
        email=str(claims.get("email") or "") if claims.get("email_verified", True) else "",
    )
