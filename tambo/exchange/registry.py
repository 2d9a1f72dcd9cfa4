"""The service registry every node reads: nodes, agency keys, data services, access rights.

Two YAML files, the same on every node, like X-Road's global configuration: the services
(``TAMBO_EXCHANGE_SERVICES``, reviewed text in exchange/services.yaml: each
service's owner, version, schemas, and which agency may call it for which procedures) and
the agencies (``TAMBO_EXCHANGE_AGENCIES``: which node hosts each agency and its public key
for HTTP Message Signatures; written by ``tambo exchange keys`` and distributed to every
node by the operator of the network).
"""

from __future__ import annotations

import datetime as dt
import time
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field

from tambo.core import clock


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@lru_cache(maxsize=256)
def public_key(pem: str) -> Ed25519PublicKey:
    """A PEM public key parsed once per process (the registry's keys change rarely)."""
    key = load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 key")
    return key


class PreviousKey(Strict):
    """A key the agency rotated away from: still accepted until ``expires``."""

    key_id: str
    public_key: str = Field(description="Ed25519 public key, PEM")
    expires: dt.datetime


class AgencyEntry(Strict):
    code: str
    node: str = Field(description="base URL of the Tambo node that hosts the agency")
    key_id: str = Field(description="the current key: the agency signs with it")
    public_key: str = Field(description="Ed25519 public key, PEM")
    previous_keys: list[PreviousKey] = Field(
        default_factory=list, description="keys rotated away from, accepted until they expire"
    )

    def verification_key(self, key_id: str | None = None) -> Ed25519PublicKey:
        """The public key of ``key_id`` (the current key by default)."""
        if key_id is None or key_id == self.key_id:
            return public_key(self.public_key)
        previous = self.previous(key_id)
        if previous is None:
            raise KeyError(key_id)
        return public_key(previous.public_key)

    def previous(self, key_id: str) -> PreviousKey | None:
        return next((k for k in self.previous_keys if k.key_id == key_id), None)

    def holds(self, key_id: str) -> bool:
        return key_id == self.key_id or self.previous(key_id) is not None

    def expires(self, key_id: str) -> dt.datetime | None:
        """When ``key_id`` stops being accepted (None: the current key does not expire)."""
        previous = self.previous(key_id) if key_id != self.key_id else None
        return previous.expires if previous is not None else None


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

    @cached_property
    def _validators(self) -> tuple[Any, Any]:
        """The query's and the answer's validators, compiled (and the schemas checked) once
        per process and registry version, not on every exchange."""
        compiled = []
        for schema in (self.request, self.response):
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            compiled.append(cls(schema))  # no format checking, as jsonschema.validate()
        return compiled[0], compiled[1]

    @staticmethod
    def _check(validator: Any, instance: Any) -> None:
        # The same error jsonschema.validate() raises: the most relevant one.
        error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error

    def check_query(self, query: Any) -> None:
        """Raise ``jsonschema.ValidationError`` if ``query`` breaks the request schema."""
        self._check(self._validators[0], query)

    def check_answer(self, answer: Any) -> None:
        """Raise ``jsonschema.ValidationError`` if ``answer`` breaks the answer schema."""
        self._check(self._validators[1], answer)

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
        """The agency holding ``key_id``, as its current key or a previous one."""
        return next((a for a in self.agencies if a.holds(key_id)), None)

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


# The last registry returned, by file paths: (monotonic time of the check, registry).
_recent: dict[tuple[str, str], tuple[float, Registry]] = {}


def registry() -> Registry:
    """The registry (re-read when either file changes).

    A signed exchange asks for it several times; the files' modification times are looked
    at again only after ``TAMBO_EXCHANGE_REGISTRY_CHECK_SECONDS`` (default 1 s; 0 in tests),
    so a changed file is seen within that time, without a ``stat`` per call.
    """
    services, agencies = (
        str(settings.TAMBO_EXCHANGE_SERVICES),
        str(settings.TAMBO_EXCHANGE_AGENCIES),
    )
    now = time.monotonic()
    recent = _recent.get((services, agencies))
    if recent is not None and now - recent[0] < settings.TAMBO_EXCHANGE_REGISTRY_CHECK_SECONDS:
        return recent[1]
    loaded = _load(services, _mtime(Path(services)), agencies, _mtime(Path(agencies)))
    _recent[(services, agencies)] = (now, loaded)
    return loaded


def write_agency(
    code: str,
    node: str,
    public_key: str,
    *,
    key_id: str | None = None,
    previous_keys: list[dict[str, Any]] | None = None,
) -> None:
    """Add or replace an agency's entry in the agencies file (``tambo exchange keys``).

    Re-writing the same key (a new node URL) keeps its key id and previous keys; a new key
    needs its ``key_id``, and a rotation passes the keys still accepted as ``previous_keys``.
    """
    path = Path(settings.TAMBO_EXCHANGE_AGENCIES)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    entries = (data or {}).get("agencies") or []
    old = next((a for a in entries if a.get("code") == code), None)
    same_key = old is not None and old.get("public_key") == public_key
    entry: dict[str, Any] = {
        "code": code,
        "node": node,
        "key_id": key_id or (old["key_id"] if same_key else f"{code}-exchange"),
        "public_key": public_key,
    }
    previous = (
        previous_keys
        if previous_keys is not None
        else (old.get("previous_keys") or [] if same_key else [])
    )
    if previous:
        entry["previous_keys"] = previous
    entries = [entry if a.get("code") == code else a for a in entries]
    if old is None:
        entries.append(entry)
    AgencyEntry.model_validate(entry)  # never write an entry every node would then refuse
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(
        yaml.safe_dump({"agencies": entries}, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    temporary.replace(path)
    _recent.clear()  # this process sees its own change at once


def rotate_agency_key(
    code: str, new_key_id: str, new_public_key: str, overlap: dt.timedelta
) -> None:
    """Make ``new_key_id`` the agency's current key; the old one is accepted for ``overlap``.

    Previous keys already expired are dropped from the entry.
    """
    entry = registry().agency(code)
    if entry is None:
        raise LookupError(f"{code} is not in the agencies file")
    now = clock.now()
    kept = [k.model_dump(mode="json") for k in entry.previous_keys if k.expires > now]
    kept.append(
        {
            "key_id": entry.key_id,
            "public_key": entry.public_key,
            "expires": (now + overlap).isoformat(),
        }
    )
    write_agency(code, entry.node, new_public_key, key_id=new_key_id, previous_keys=kept)
