"""The platform's Ed25519 checkpoint key: create, load, describe. No Django here, so the key
can be made before the production settings (which refuse to start without it) load:
``python -m tambo.core.keyfile /etc/tambo/audit-checkpoint.pem``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def create(path: Path) -> bool:
    """Write a new private key to ``path`` (mode 0600) unless one is there; True if created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return True


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def load(path: Path) -> Ed25519PrivateKey:
    """The private key at ``path`` (cached per process until the file changes)."""
    return _load(str(path), path.stat().st_mtime_ns)


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """First 8 bytes (hex) of SHA-256 of the raw public key: names the key in checkpoints."""
    return hashlib.sha256(raw_public(key)).hexdigest()[:16]


def describe(key: Ed25519PublicKey) -> dict[str, str]:
    """The public key as published at /api/v1/audit/public-key."""
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "algorithm": "Ed25519",
        "key_id": key_id(key),
        "public_key": base64.b64encode(raw_public(key)).decode("ascii"),
        "pem": pem.decode("ascii"),
    }


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tambo.core.keyfile PATH")
    target = Path(sys.argv[1])
    print(("created " if create(target) else "kept existing ") + str(target))
