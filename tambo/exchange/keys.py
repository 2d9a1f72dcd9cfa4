"""Each agency's exchange key pairs (Ed25519): the private keys on its node, the public keys
in the registry. Kept beside the document-signing keys, encrypted with the agency's password.

An agency signs with its current key (the registry's ``key_id``); after a rotation the
previous public key stays in the registry, with an expiry, so requests and answers signed
with it are still accepted until then. Private key files are named by key id, except the
first key of an agency (``<CODE>-exchange``), which keeps its original name ``<CODE>.pem``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from tambo.core import clock
from tambo.documents.keys import agency_password

_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def default_key_id(agency_code: str) -> str:
    return f"{agency_code}-exchange"


def key_path(agency_code: str, key_id: str | None = None) -> Path:
    directory = Path(settings.TAMBO_SIGNING_KEYS) / "exchange"
    if key_id is None or key_id == default_key_id(agency_code):
        return directory / f"{agency_code}.pem"
    if not _KEY_ID.match(key_id):
        raise ValueError(f"not a key id: {key_id!r}")
    return directory / f"{key_id}.pem"


def current_key_id(agency_code: str) -> str:
    """The key id the registry lists as the agency's current key (the first one if none)."""
    from .registry import registry

    entry = registry().agency(agency_code)
    return entry.key_id if entry is not None else default_key_id(agency_code)


def hosts(agency_code: str) -> bool:
    """Whether this node holds the agency's current private key (so it serves its services)."""
    return key_path(agency_code, current_key_id(agency_code)).exists()


def serves(agency_code: str) -> bool:
    """:func:`hosts`, for the provider's every request: a key found is remembered for the
    process (a serving node keeps its loaded key, as :func:`signing_key` does, and a rotation
    brings a new key id, looked for afresh); a key not found is looked for again each time."""
    held = (str(settings.TAMBO_SIGNING_KEYS), agency_code, current_key_id(agency_code))
    if held in _SERVED:
        return True
    if key_path(agency_code, held[2]).exists():
        _SERVED.add(held)
        return True
    return False


_SERVED: set[tuple[str, str, str]] = set()


def ensure_key(agency_code: str) -> tuple[str, str]:
    """The key this node signs with for the agency, created if it has none: its key id and
    public key (the registry's current key when this node holds it, else a first key)."""
    key_id = current_key_id(agency_code) if hosts(agency_code) else default_key_id(agency_code)
    return key_id, create_key(agency_code, key_id)


def create_key(agency_code: str, key_id: str | None = None) -> str:
    """Create the key if this node lacks it; return its public key (PEM) for the registry."""
    path = key_path(agency_code, key_id)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        data = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(agency_password(agency_code).encode()),
        )
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(data)
        temporary.chmod(0o600)
        temporary.replace(path)
        signing_key.cache_clear()
    return public_pem(signing_key(agency_code, key_id))


def new_key_id(agency_code: str) -> str:
    """A fresh key id for a rotation: the agency and the moment (UTC)."""
    return f"{agency_code}-exchange-{clock.now():%Y%m%d%H%M%S}"


@cache
def signing_key(agency_code: str, key_id: str | None = None) -> Ed25519PrivateKey:
    """One of the agency's private keys (read and decrypted once per process and key id:
    a rotation brings a new key id, so a long-running worker never signs with a stale key)."""
    key = serialization.load_pem_private_key(
        key_path(agency_code, key_id).read_bytes(), agency_password(agency_code).encode()
    )
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{agency_code}: the exchange key must be Ed25519")
    return key


def public_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
