"""The one clock of Tambo: deadlines, receipt times and sweeps read "now" from here.

Tests freeze it with :func:`frozen`; nothing else calls ``timezone.now()`` for
legal time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from django.utils import timezone

LIMA = ZoneInfo("America/Lima")

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    """The current instant, timezone-aware."""
    return _frozen if _frozen is not None else timezone.now()


def local_now() -> dt.datetime:
    """The current instant in Peru's time (the legal clock for terms)."""
    return now().astimezone(LIMA)


@contextlib.contextmanager
def frozen(at: dt.datetime) -> Iterator[None]:
    """Make :func:`now` return ``at`` inside the block (for tests and the demo)."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("frozen() needs an aware datetime")
    previous, _frozen = _frozen, at
    try:
        yield
    finally:
        _frozen = previous
