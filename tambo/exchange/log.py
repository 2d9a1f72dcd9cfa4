"""Writing the exchange log and its audit entries (both sides, same shape)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from tambo.core import audit, clock

from .models import ExchangeLog, SeenNonce


def write(*, nonce: tuple[str, str] | None = None, **fields: Any) -> ExchangeLog | None:
    """One log entry plus its audit entry, in one transaction.

    With ``nonce`` (key id, nonce of a verified request) the nonce is recorded first in the
    same transaction — one commit per served request instead of two. If it was already used
    (a replay, possibly running at the same moment) nothing is written and None is returned:
    the caller answers ``replayed`` instead.
    """
    with transaction.atomic():
        if nonce is not None:
            try:
                with transaction.atomic():
                    SeenNonce.objects.create(key_id=nonce[0], nonce=nonce[1], seen_at=clock.now())
            except IntegrityError:
                return None
        entry = ExchangeLog.objects.create(at=clock.now(), **fields)
        audit.record(
            f"exchange.{fields['direction']}.{'ok' if fields['outcome'] == 'ok' else 'refused'}",
            "exchange",
            fields["request_id"],
            agency_code=fields["consumer"] if fields["direction"] == "out" else fields["provider"],
            data={
                "service": f"{fields['service']}/{fields['version']}",
                "consumer": fields["consumer"],
                "provider": fields["provider"],
                "filing": fields.get("filing_number", ""),
                "outcome": fields["outcome"],
            },
        )
    return entry
