"""The structured fields of the signature profile read and written directly must be exactly
what ``http_sf`` (RFC 8941's full grammar) reads and writes: on the fields Tambo signs with,
and on generated ones, near Tambo's shape and far from it, valid and not."""

from __future__ import annotations

import base64
import json

import http_sf
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tambo.exchange import structured
from tambo.exchange.signing import (
    Answer,
    Message,
    sign_answer,
    sign_request,
)

REFUSED = "refused"


def _library_parse(text: str):
    try:
        return http_sf.parse(text.encode(), tltype="dictionary")
    except Exception:
        return REFUSED


def _our_parse(text: str):
    try:
        return structured.parse_dictionary(text)
    except Exception:
        return REFUSED


def test_the_fields_tambo_signs_with_read_as_the_library_reads_them(agencies, monkeypatch):
    body = json.dumps({"query": {"document_number": "40111222"}}).encode()
    request = Message(
        "POST",
        "https://mdsi.example/x/v1/services/licencias-funcionamiento/1",
        {"tambo-request-id": "r-1", "tambo-purpose": '{"filing":"X"}'},
    )
    sign_request(request, body, "MTC")
    answer = Answer(200, {"tambo-request-id": "r-1", "tambo-request-nonce": "n"}, request)
    sign_answer(answer, b'{"ok":true}', "MDSI")
    expected = {
        id(headers): {
            name: http_sf.parse(headers[name].encode(), tltype="dictionary")
            for name in ("Signature-Input", "Signature", "Content-Digest")
        }
        for headers in (request.headers, answer.headers)
    }

    def not_called(*args, **kwargs):
        raise AssertionError("Tambo's own fields should not need http_sf")

    # Tambo's fields take the direct path (else the library would be called) and read the same.
    monkeypatch.setattr(structured.http_sf, "parse", not_called)
    monkeypatch.setattr(structured.http_sf, "ser", not_called)
    for headers in (request.headers, answer.headers):
        for name, value in expected[id(headers)].items():
            assert structured.parse_dictionary(headers[name]) == value
        ((label, (covered, params)),) = structured.parse_dictionary(
            headers["Signature-Input"]
        ).items()
        assert (
            f"{label}={structured.serialise_inner_list(covered, params)}"
            == headers["Signature-Input"]
        )


# Pieces near Tambo's shape (so the direct reading is tried) and pieces it must leave to
# http_sf: escapes, tokens, booleans, decimals, item parameters, spaces, several members.
_KEYS = st.sampled_from(["pyhms", "sig1", "sha-256", "a*", "*", "A", "1a", "k_.-*"])
_STRINGS = st.text(alphabet=st.characters(min_codepoint=0x1F, max_codepoint=0x7F), max_size=12)
_SF_STRINGS = _STRINGS.map(lambda s: '"' + s + '"') | _STRINGS.map(
    lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
)
_INTEGERS = st.integers(min_value=-(10**16), max_value=10**16).map(str) | st.sampled_from(
    ["007", "-0", "1.5", "?1", "?0", "tok", "-", "1e3"]
)
_PARAMS = st.lists(
    st.tuples(_KEYS, _INTEGERS | _SF_STRINGS).map(lambda kv: f";{kv[0]}={kv[1]}")
    | _KEYS.map(lambda k: f";{k}"),
    max_size=4,
).map("".join)
_ITEMS = st.lists(_SF_STRINGS | st.sampled_from(["tok", "1", '"x";a=1']), max_size=4).map(
    " ".join
) | st.lists(_SF_STRINGS, max_size=4).map("  ".join)
_BYTES = st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()) | st.sampled_from(
    ["", "QQ", "QQ=", "QQ===", "=", "QR==", "Q Q==", "QUJD", "QUJD!"]
)
_MEMBER = st.one_of(
    st.tuples(_KEYS, _BYTES).map(lambda kv: f"{kv[0]}=:{kv[1]}:"),
    st.tuples(_KEYS, _ITEMS, _PARAMS).map(lambda v: f"{v[0]}=({v[1]}){v[2]}"),
    st.tuples(_KEYS, _BYTES, _PARAMS).map(lambda v: f"{v[0]}=:{v[1]}:{v[2]}"),
)
_FIELDS = st.one_of(
    _MEMBER,
    st.lists(_MEMBER, min_size=2, max_size=3).map(", ".join),
    st.tuples(st.sampled_from([" ", "", "\t"]), _MEMBER, st.sampled_from([" ", "", ","])).map(
        "".join
    ),
)


@settings(max_examples=600, deadline=None)
@given(_FIELDS)
@example('pyhms=("@method" "@target-uri");created=1;keyid="MTC-exchange";created=2')
@example('pyhms=("a\\"b");x=1')
@example("pyhms=:QR==:")
@example("pyhms=:QQ:")
@example("sha-256=:YWJj:, sha-512=:YWJj:")
@example('pyhms=();nonce="";n=-0')
@example('pyhms=("@status");n=1000000000000000')
def test_a_field_reads_as_the_library_reads_it(text):
    assert _our_parse(text) == _library_parse(text)


_PARAM_VALUES = st.one_of(
    st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12),
    st.booleans(),
    st.sampled_from([http_sf.Token("tok"), 10**15, -(10**15)]),
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=10),
        max_size=5,
    ),
    st.dictionaries(st.sampled_from(["created", "keyid", "nonce", "a*", "b_.-"]), _PARAM_VALUES),
)
def test_signature_params_serialise_as_the_library_writes_them(names, params):
    items = [(name, {}) for name in names]
    try:
        expected = http_sf.ser({"x": (items, params)})[2:]
    except Exception:
        expected = REFUSED
    try:
        written = structured.serialise_inner_list(items, params)
    except Exception:
        written = REFUSED
    assert written == expected


def test_an_escaped_string_or_a_token_is_left_to_the_library():
    items = [('say "hi"', {}), ("back\\slash", {})]
    params = {"tag": http_sf.Token("tok"), "ok": True}
    assert structured.serialise_inner_list(items, params) == (
        '("say \\"hi\\"" "back\\\\slash");tag=tok;ok'
    )
