"""Writing the exchange log and its audit entries (both sides, same shape)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from tambo.core import audit, clock

from .models import ExchangeLog, SeenNonce


def first_use(key_id: str, nonce: str) -> bool:
    """Record a nonce; False if it was already used (a replayed request)."""
    try:
        with transaction.atomic():
            SeenNonce.objects.create(key_id=key_id, nonce=nonce, seen_at=clock.now())
    except IntegrityError:
        return False
    return True


def write(**fields: Any) -> ExchangeLog:
    """One log entry plus its audit entry, in one transaction."""
    with transaction.atomic():
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
