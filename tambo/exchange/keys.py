"""Each agency's exchange key pair (Ed25519): the private key on its node, the public key in
the registry. Kept beside the document-signing keys, encrypted with the agency's password."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from tambo.documents.keys import agency_password


def key_path(agency_code: str) -> Path:
    return Path(settings.TAMBO_SIGNING_KEYS) / "exchange" / f"{agency_code}.pem"


def create_key(agency_code: str) -> str:
    """Create the agency's key if it has none; return its public key (PEM) for the registry."""
    path = key_path(agency_code)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        data = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(agency_password(agency_code).encode()),
        )
        path.write_bytes(data)
        path.chmod(0o600)
        signing_key.cache_clear()
    return public_pem(signing_key(agency_code))


@cache
def signing_key(agency_code: str) -> Ed25519PrivateKey:
    """The agency's private key (read and decrypted once per process)."""
    key = serialization.load_pem_private_key(
        key_path(agency_code).read_bytes(), agency_password(agency_code).encode()
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
