"""Public JSON endpoints of the audit log under /api/v1/audit/: checkpoints, proofs, the key.

Anyone may read them (no login), so an outside auditor can keep the signed checkpoints,
check that each extends the previous one, and check that an entry is in the log. ``core``
imports no other app: the project's API passes the permission policy's ``require`` in
(:func:`build_router`), and every endpoint asks it for ``audit.view``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import Subquery
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema

from . import keyfile, keyring, merkle, tlog
from .errors import Conflict, DomainError, NotFound, Unavailable
from .models import AuditEntry, AuditSeal, ChainHead, Checkpoint, PendingSeal


class SizeOutOfRange(DomainError):
    status = 422
    code = "size_out_of_range"


class CheckpointOut(Schema):
    tree_size: int
    root_hash: str
    origin: str
    created_at: dt.datetime
    key_id: str
    signature: str
    signed_text: str


class CheckpointPage(Schema):
    items: list[CheckpointOut]
    next_after: int | None


class InclusionOut(Schema):
    entry_id: int
    seq: int
    leaf_index: int
    tree_size: int
    entry_digest: str
    leaf_hash: str
    root_hash: str
    audit_path: list[str]


class ConsistencyOut(Schema):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


class PublishedKeyOut(Schema):
    algorithm: str
    key_id: str
    public_key: str
    pem: str
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None


class PublicKeyOut(Schema):
    """The current signing key (top-level fields) and every key ever published."""

    algorithm: str
    key_id: str
    public_key: str
    pem: str
    origin: str
    keys: list[PublishedKeyOut]


class PageQuery(Schema):
    after: int = -1
    limit: int = 50


def _out(checkpoint: Checkpoint) -> dict[str, Any]:
    return tlog.CheckpointOut.of(checkpoint).__dict__


def _size_in_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise SizeOutOfRange(
            _("El tamaño %(value)s está fuera del árbol (de %(low)s a %(high)s).")
            % {"value": value, "low": low, "high": high},
            field=name,
        )


def build_router(require: Callable[[Any, str], None]) -> Router:
    """The audit router; ``require(user, action)`` is the permission policy's check."""
    router = Router(tags=["auditoría"])

    @router.get("/audit/checkpoints/latest", response=CheckpointOut, auth=None)
    def latest_checkpoint(request: HttpRequest) -> Any:
        """The newest signed checkpoint."""
        require(request.user, "audit.view")
        checkpoint = Checkpoint.objects.order_by("-tree_size").first()
        if checkpoint is None:
            raise NotFound(_("Todavía no hay puntos de control firmados."), code="no_checkpoint")
        return _out(checkpoint)

    @router.get("/audit/checkpoints", response=CheckpointPage, auth=None)
    def list_checkpoints(request: HttpRequest, page: Query[PageQuery]) -> Any:
        """Checkpoints oldest first, ``limit`` (1-100) per page after tree size ``after``."""
        require(request.user, "audit.view")
        if not 1 <= page.limit <= 100:
            raise SizeOutOfRange(_("El límite debe estar entre 1 y 100."), field="limit")
        items = list(
            Checkpoint.objects.filter(tree_size__gt=page.after).order_by("tree_size")[
                : page.limit + 1
            ]
        )
        more = len(items) > page.limit
        items = items[: page.limit]
        return {
            "items": [_out(c) for c in items],
            "next_after": items[-1].tree_size if more else None,
        }

    @router.get("/audit/proofs/inclusion", response=InclusionOut, auth=None)
    def inclusion(
        request: HttpRequest,
        entry: int | None = None,
        seq: int | None = None,
        size: int | None = None,
    ) -> Any:
        """Audit path of an entry (by ``entry`` id or chain ``seq``) in the tree of ``size``
        entries (default: the latest checkpoint's size)."""
        require(request.user, "audit.view")
        seal = _seal(entry, seq)
        current, latest = seal.current_size or 0, seal.latest_checkpoint
        if size is None:
            size = latest if latest is not None and latest >= seal.seq else current
        _size_in_range("size", size, seal.seq, current)
        path, root = tlog.inclusion_proof_and_root(seal.seq, size)
        leaf = merkle.leaf_hash(bytes.fromhex(seal.entry_digest))
        return {
            "entry_id": seal.entry_id,
            "seq": seal.seq,
            "leaf_index": seal.seq - 1,
            "tree_size": size,
            "entry_digest": seal.entry_digest,
            "leaf_hash": leaf.hex(),
            "root_hash": root.hex(),
            "audit_path": [p.hex() for p in path],
        }

    @router.get("/audit/proofs/consistency", response=ConsistencyOut, auth=None)
    def consistency(request: HttpRequest, first: int, second: int) -> Any:
        """Proof that the tree of ``second`` entries extends the tree of ``first`` entries."""
        require(request.user, "audit.view")
        current = tlog.tree_size()
        _size_in_range("second", second, 0, current)
        _size_in_range("first", first, 0, second)
        return {
            "first": first,
            "second": second,
            "first_root": tlog.root(first).hex(),
            "second_root": tlog.root(second).hex(),
            "proof": [p.hex() for p in tlog.consistency_proof(first, second)],
        }

    @router.get("/audit/public-key", response=PublicKeyOut, auth=None)
    def public_key(request: HttpRequest) -> Any:
        """The Ed25519 key that signs checkpoints now, raw (base64) and as PEM, and in
        ``keys`` every key that signed checkpoints, with the time it was valid from and until
        (a checkpoint is checked with the key named by its ``key_id``)."""
        require(request.user, "audit.view")
        keys = keyring.published()
        if not keys:
            raise Unavailable(
                _("La clave de los puntos de control no está disponible."), code="no_key"
            )
        return {
            **keyfile.describe(keys[-1].public),
            "origin": settings.TAMBO_CHECKPOINT_ORIGIN,
            "keys": [key.describe() for key in keys],
        }

    return router


def _seal(entry: int | None, seq: int | None) -> AuditSeal:
    """The seal of the entry asked for by id or by position, with the tree's current size
    and the latest checkpoint's size in the same query; stable errors otherwise."""
    if (entry is None) == (seq is None):
        raise DomainError(
            _("Indique la entrada (entry) o su posición (seq), una de las dos."),
            code="entry_or_seq",
            field="entry",
        )
    seals = AuditSeal.objects.only("seq", "entry_id", "entry_digest").annotate(
        current_size=Subquery(ChainHead.objects.filter(pk=1).values("size")[:1]),
        latest_checkpoint=Subquery(
            Checkpoint.objects.order_by("-tree_size").values("tree_size")[:1]
        ),
    )
    if seq is not None:
        found = seals.filter(seq=seq).first()
        if found is None:
            raise NotFound(_("No hay una entrada en esa posición."), code="unknown_entry")
        return found
    found = seals.filter(entry_id=entry).first()
    if found is not None:
        return found
    if (
        PendingSeal.objects.filter(entry_id=entry).exists()
        or AuditEntry.objects.filter(pk=entry).exists()
    ):
        raise Conflict(
            _("La entrada todavía no está sellada; vuelva a intentarlo en unos segundos."),
            code="entry_not_sealed",
        )
    raise NotFound(_("No existe esa entrada del registro de auditoría."), code="unknown_entry")
