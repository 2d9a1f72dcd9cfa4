"""Tambo's RFC 9421 verifier (``signing.verify``) against the library's: both accept what the
other side's signer makes, and both refuse each tampered or off-profile message.

``signing.verify`` rebuilds the signature base for Tambo's one profile itself (it is the
provider's hot path); ``http-message-signatures``' ``HTTPMessageVerifier`` is the reference
here, so a difference between the two in either direction fails a test.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json

import pytest
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException

from tambo.core import clock
from tambo.exchange import keys, signing
from tambo.exchange.errors import ExchangeError
from tambo.exchange.registry import registry
from tambo.exchange.signing import (
    ANSWER_COMPONENTS,
    LIFETIME,
    REQUEST_COMPONENTS,
    TAG_ANSWER,
    TAG_REQUEST,
    Answer,
    Message,
    sign_answer,
    sign_request,
    verify,
)

URL = "https://mdsi.example.gob.pe/x/v1/services/licencias-funcionamiento/1"
BODY = json.dumps({"query": {"document_number": "40111222"}}).encode()


class _RegistryKeys(HTTPSignatureKeyResolver):
    def resolve_public_key(self, key_id: str):
        return registry().by_key_id(key_id).verification_key(key_id)

    def resolve_private_key(self, key_id: str):
        return keys.signing_key(registry().by_key_id(key_id).code, key_id)


LIBRARY_VERIFIER = HTTPMessageVerifier(
    signature_algorithm=algorithms.ED25519, key_resolver=_RegistryKeys()
)
LIBRARY_SIGNER = HTTPMessageSigner(
    signature_algorithm=algorithms.ED25519, key_resolver=_RegistryKeys()
)


def request() -> Message:
    return Message(
        "POST",
        URL,
        {
            "content-type": "application/json",
            "tambo-request-id": "r-1",
            "tambo-purpose": '{"filing":"MTC-2026-0000042"}',
        },
    )


def signed_by_tambo() -> Message:
    message = request()
    sign_request(message, BODY, "MTC")
    return message


def signed_by_library(**overrides) -> Message:
    """The library's own sign() (prepare + apply), as another implementation would sign."""
    message = request()
    now = clock.now()
    options = {
        "key_id": registry().agency("MTC").key_id,
        "created": now,
        "expires": now + LIFETIME,
        "nonce": "n-123456",
        "tag": TAG_REQUEST,
        "covered_component_ids": REQUEST_COMPONENTS,
        "body": BODY,
    }
    options.update(overrides)
    LIBRARY_SIGNER.sign(message, **options)
    return message


def tambo_accepts(message: Message, body: bytes = BODY) -> bool:
    try:
        verify(message, body, TAG_REQUEST, REQUEST_COMPONENTS)
    except ExchangeError as error:
        assert error.code in {"bad_signature", "unsigned"}, error.code
        return False
    return True


def library_accepts(message: Message, body: bytes = BODY) -> bool:
    try:
        LIBRARY_VERIFIER.verify(
            message,
            max_age=None,
            expect_tag=TAG_REQUEST,
            require_components=REQUEST_COMPONENTS,
            body=body,
        )
    except HTTPMessageSignaturesException:
        return False
    return True


def test_each_verifier_accepts_what_the_other_side_signed(agencies):
    ours, theirs = signed_by_tambo(), signed_by_library()
    assert tambo_accepts(ours) and library_accepts(ours)
    assert tambo_accepts(theirs) and library_accepts(theirs)
    assert verify(theirs, BODY, TAG_REQUEST, REQUEST_COMPONENTS).nonce == "n-123456"


def _tampered() -> list[tuple[str, Message, bytes]]:
    base = signed_by_tambo()
    cases = []

    def variant(name: str, change, body: bytes = BODY) -> None:
        message = copy.deepcopy(base)
        change(message)
        cases.append((name, message, body))

    variant("method", lambda m: setattr(m, "method", "PUT"))
    variant("target uri", lambda m: setattr(m, "url", URL.replace("/1", "/2")))
    variant("request id", lambda m: m.headers.update({"tambo-request-id": "r-2"}))
    variant("purpose", lambda m: m.headers.update({"tambo-purpose": '{"filing":"other"}'}))
    variant("body", lambda m: None, body=BODY + b" ")
    variant(
        "digest of the changed body",
        lambda m: m.headers.update(
            {"Content-Digest": "sha-256=:" + base64.b64encode(b"x" * 32).decode() + ":"}
        ),
    )
    variant(
        "signature bytes",
        lambda m: m.headers.update(
            {"Signature": "pyhms=:" + base64.b64encode(b"\0" * 64).decode() + ":"}
        ),
    )
    variant(
        "parameters (a later expiry)",
        lambda m: m.headers.update(
            {"Signature-Input": m.headers["Signature-Input"].replace("expires=", "expires=1")}
        ),
    )
    variant(
        "label of Signature differs",
        lambda m: m.headers.update({"Signature": m.headers["Signature"].replace("pyhms", "x")}),
    )
    variant("no Signature", lambda m: m.headers.pop("Signature"))
    variant("no Content-Digest", lambda m: m.headers.pop("Content-Digest"))
    variant("a covered field missing", lambda m: m.headers.pop("tambo-purpose"))
    variant(
        "two signatures",
        lambda m: m.headers.update(
            {
                "Signature-Input": m.headers["Signature-Input"]
                + ", "
                + m.headers["Signature-Input"].replace("pyhms", "other"),
                "Signature": m.headers["Signature"]
                + ", "
                + m.headers["Signature"].replace("pyhms", "other"),
            }
        ),
    )
    return cases


def test_tampered_requests_are_refused_by_both_verifiers(agencies):
    cases = _tampered()
    assert len(cases) == 13
    for name, message, body in cases:
        assert not tambo_accepts(message, body), name
        # The library may still take a message with two signatures (it chooses by tag);
        # Tambo's profile allows one only.
        if name != "two signatures":
            assert not library_accepts(message, body), name


@pytest.mark.parametrize(
    "overrides",
    [
        {"tag": "another-application"},
        {"covered_component_ids": REQUEST_COMPONENTS[:-1]},  # the purpose not covered
        {"covered_component_ids": ("@authority", *REQUEST_COMPONENTS)},  # one more
        {"covered_component_ids": tuple(reversed(REQUEST_COMPONENTS))},  # another order
        {
            "covered_component_ids": (
                "@method",
                "@target-uri",
                '"content-digest";sf',  # the same field, with a parameter
                "tambo-request-id",
                "tambo-purpose",
            )
        },
        {"nonce": None},
    ],
    ids=["tag", "fewer", "more", "order", "parameter", "no-nonce"],
)
def test_a_valid_signature_of_another_profile_is_refused(agencies, overrides):
    """Validly signed, but not what Tambo requires: refused (the library with its own
    settings may accept some of these; Tambo's profile is fixed)."""
    assert not tambo_accepts(signed_by_library(**overrides))


def test_a_signature_without_expiry_or_outside_its_window_is_refused(agencies):
    with pytest.raises(ExchangeError) as info:
        verify(signed_by_library(expires=None), BODY, TAG_REQUEST, REQUEST_COMPONENTS)
    assert info.value.code == "bad_signature"
    old = clock.now() - LIFETIME - dt.timedelta(minutes=1)
    stale = signed_by_library(created=old, expires=old + LIFETIME)
    with pytest.raises(ExchangeError) as info:
        verify(stale, BODY, TAG_REQUEST, REQUEST_COMPONENTS)
    assert info.value.code == "expired"
    assert library_accepts(signed_by_library())  # the fixture's own messages are valid


def test_an_answer_signed_by_tambo_verifies_with_both_and_is_bound_to_its_request(agencies):
    body = b'{"licences":[]}'
    headers = {"content-type": "application/json", "tambo-request-id": "r-1"}
    answer = Answer(200, {**headers, "tambo-request-nonce": "n-1"}, request())
    sign_answer(answer, body, "MDSI")
    verified = verify(answer, body, TAG_ANSWER, ANSWER_COMPONENTS)
    assert verified.agency == "MDSI"
    LIBRARY_VERIFIER.verify(
        answer, max_age=None, expect_tag=TAG_ANSWER, require_components=ANSWER_COMPONENTS, body=body
    )
    # The same answer presented for another request (another nonce) or status: refused.
    for change in ({"tambo-request-nonce": "n-2"}, {"tambo-request-id": "r-2"}):
        other = copy.deepcopy(answer)
        other.headers.update(change)
        with pytest.raises(ExchangeError):
            verify(other, body, TAG_ANSWER, ANSWER_COMPONENTS)
    other = copy.deepcopy(answer)
    other.status_code = 403
    with pytest.raises(ExchangeError):
        verify(other, body, TAG_ANSWER, ANSWER_COMPONENTS)


def _freeze(monkeypatch, at: dt.datetime) -> None:
    monkeypatch.setattr(clock, "now", lambda: at)


@pytest.mark.parametrize("kind", ["request", "answer"])
def test_tambo_signs_byte_for_byte_as_the_library_does(agencies, monkeypatch, kind):
    """Same key, time, nonce and components: Tambo's signer and the library's write the same
    Content-Digest, Signature-Input and Signature (Ed25519 is deterministic)."""
    at = dt.datetime(2026, 12, 1, 10, 0, 0, 500000, tzinfo=dt.UTC)
    _freeze(monkeypatch, at)
    monkeypatch.setattr(signing.secrets, "token_urlsafe", lambda n: "n-fixed")
    if kind == "request":
        ours, theirs, agency = request(), request(), "MTC"
        sign_request(ours, BODY, agency)
        tag, components = TAG_REQUEST, REQUEST_COMPONENTS
    else:
        headers = {"content-type": "application/json", "tambo-request-id": "r-1"}
        ours = Answer(200, {**headers, "tambo-request-nonce": "n-1"}, request())
        theirs = copy.deepcopy(ours)
        agency = "MDSI"
        sign_answer(ours, BODY, agency)
        tag, components = TAG_ANSWER, ANSWER_COMPONENTS
    LIBRARY_SIGNER.sign(
        theirs,
        key_id=registry().agency(agency).key_id,
        created=at,
        expires=at + LIFETIME,
        nonce="n-fixed",
        tag=tag,
        covered_component_ids=components,
        body=BODY,
    )
    for name in ("Content-Digest", "Signature-Input", "Signature"):
        assert ours.headers[name] == theirs.headers[name], name
    assert ours.headers == theirs.headers


def test_signing_again_replaces_the_old_fields(agencies):
    message = signed_by_tambo()
    sign_request(message, BODY + b" ", "MTC")
    names = [n.lower() for n in message.headers]
    assert names.count("signature") == names.count("content-digest") == 1
    assert tambo_accepts(message, BODY + b" ") and library_accepts(message, BODY + b" ")


def test_a_field_that_would_forge_a_line_is_not_signed(agencies):
    message = request()
    message.headers["tambo-purpose"] = '{"filing":"x"}\n"@method": GET'
    with pytest.raises(ExchangeError):
        sign_request(message, BODY, "MTC")
