"""Fees (derechos de tramitación): free, fixed in soles, or a share of the year's UIT."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from .schema import Fee

CENT = Decimal("0.01")


class UnknownUIT(LookupError):
    """No UIT is configured for the year: a fee cannot be computed (settings TAMBO_UIT)."""


def uit(year: int) -> Decimal:
    try:
        return Decimal(str(settings.TAMBO_UIT[year]))
    except KeyError as exc:
        raise UnknownUIT(f"no UIT configured for {year}") from exc


def fee_for(fee: Fee, year: int) -> Decimal:
    if fee.kind == "free":
        return Decimal("0.00")
    if fee.kind == "fixed":
        assert fee.amount is not None
        return fee.amount.quantize(CENT, ROUND_HALF_UP)
    assert fee.percent is not None
    return (uit(year) * fee.percent / 100).quantize(CENT, ROUND_HALF_UP)
