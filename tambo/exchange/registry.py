"""The service registry every node reads: nodes, agency keys, data services, access rights.

Two YAML files, the same on every node, like X-Road's global configuration: the services
(``TAMBO_EXCHANGE_SERVICES``, reviewed text in exchange/services.yaml: each
service's owner, version, schemas, and which agency may call it for which procedures) and
the agencies (``TAMBO_EXCHANGE_AGENCIES``: which node hosts each agency and its public key
for HTTP Message Signatures; written by ``tambo exchange keys`` and distributed to every
node by the operator of the network).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgencyEntry(Strict):
    code: str
    node: str = Field(description="base URL of the Tambo node that hosts the agency")
    key_id: str
    public_key: str = Field(description="Ed25519 public key, PEM")

    def verification_key(self) -> Ed25519PublicKey:
        key = load_pem_public_key(self.public_key.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"{self.key_id}: not an Ed25519 key")
        return key


class Access(Strict):
    consumer: str
    procedures: list[str] = Field(default_factory=list, description="procedure codes; empty = none")
    legal_basis: str


class Service(Strict):
    code: str
    version: str
    owner: str
    name: str
    description: str
    request: dict[str, Any] = Field(description="JSON Schema of the request's query")
    response: dict[str, Any] = Field(description="JSON Schema of the answer")
    access: list[Access] = Field(default_factory=list)

    def allows(self, consumer: str, procedure: str) -> Access | None:
        for rule in self.access:
            if rule.consumer == consumer and procedure in rule.procedures:
                return rule
        return None

    def openapi(self) -> dict[str, Any]:
        """The service's OpenAPI 3.1 description (served by every node)."""
        path = f"/x/v1/services/{self.code}/{self.version}"
        return {
            "openapi": "3.1.0",
            "info": {"title": self.name, "version": self.version, "description": self.description},
            "x-owner": self.owner,
            "paths": {
                path: {
                    "post": {
                        "summary": self.name,
                        "requestBody": {
                            "required": True,
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["query", "purpose"],
                                        "properties": {
                                            "query": self.request,
                                            "purpose": {"$ref": "#/components/schemas/Purpose"},
                                        },
                                    }
                                }
                            },
                        },
                        "responses": {
                            "200": {
                                "description": "The data, signed by the owner",
                                "content": {"application/json": {"schema": self.response}},
                            },
                            "401": {"description": "Unsigned, badly signed, expired or replayed"},
                            "403": {"description": "The caller may not use this service"},
                        },
                    }
                }
            },
            "components": {
                "schemas": {
                    "Purpose": {
                        "type": "object",
                        "required": ["filing", "procedure", "legal_basis"],
                        "properties": {
                            "filing": {"type": "string"},
                            "procedure": {"type": "string"},
                            "legal_basis": {"type": "string"},
                        },
                    }
                }
            },
        }


class Registry(Strict):
    agencies: list[AgencyEntry]
    services: list[Service]

    def agency(self, code: str) -> AgencyEntry | None:
        return next((a for a in self.agencies if a.code == code), None)

    def by_key_id(self, key_id: str) -> AgencyEntry | None:
        return next((a for a in self.agencies if a.key_id == key_id), None)

    def service(self, code: str, version: str) -> Service | None:
        return next((s for s in self.services if s.code == code and s.version == version), None)


@cache
def _load(services: str, services_mtime: float, agencies: str, agencies_mtime: float) -> Registry:
    def read(path: str, key: str) -> list:
        if not Path(path).exists():
            return []
        return (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get(key) or []

    return Registry(agencies=read(agencies, "agencies"), services=read(services, "services"))


def _mtime(path: Path) -> float:
    return path.stat().st_mtime if path.exists() else 0.0


def registry() -> Registry:
    """The registry (re-read when either file changes)."""
    services, agencies = (
        Path(settings.TAMBO_EXCHANGE_SERVICES),
        Path(settings.TAMBO_EXCHANGE_AGENCIES),
    )
    return _load(str(services), _mtime(services), str(agencies), _mtime(agencies))


def write_agency(code: str, node: str, public_key: str) -> None:
    """Add or replace an agency's entry in the agencies file (``tambo exchange keys``)."""
    path = Path(settings.TAMBO_EXCHANGE_AGENCIES)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    entries = [a for a in ((data or {}).get("agencies") or []) if a.get("code") != code]
    entries.append(
        {"code": code, "node": node, "key_id": f"{code}-exchange", "public_key": public_key}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump({"agencies": entries}, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
