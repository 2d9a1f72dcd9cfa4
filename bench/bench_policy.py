"""What the permission check, the access entry and its audit entry cost, against the request
(issue 4, performance: <= 10% of the request, "measured against the same request with them
disabled in the benchmark only").

Run on PostgreSQL, on a quiet machine:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> .venv/bin/python bench/bench_policy.py

(the database is migrated and given the demo catalogue, one citizen, one official with a
verified second factor and one expediente if it has none; ``--rounds N``, default 400).

Method — two estimates from the same run, in process (Django's test client, no network):

1. **Same request, with and without.** Each request is made alternately *on* (production
   code) and *off*, where the three are replaced, in this process only, by stand-ins that do
   nothing: ``policy.allows`` answers yes, ``policy.require`` returns, and
   ``record_filing_access`` (the access row and its audit entry, one SQL statement on
   PostgreSQL) records nothing. Nothing in Tambo knows about this: the bench swaps the
   function objects wherever a ``tambo`` module holds them, so no switch exists in production
   code. Alternating on/off request by request cancels drift (caches, autovacuum, other load);
   the cost is median(on) - median(off).
2. **Time inside the calls.** In the *on* requests the same functions are wrapped with a
   timer (outermost call only, so ``require`` -> ``allows`` -> ``grants`` counts once); the
   share is the median of (time inside / request time). The wrapper costs ~1 µs per call.

What "disabled" leaves in place, on purpose: the official's grants (two indexed queries per
request, cached on the user) are still read when the page itself needs them to choose what to
show (``policy.official_roles``: the transitions offered), so estimate 1 counts them only
where the check alone needed them; estimate 2 counts them wherever the check paid them first.
The filing request (``POST /api/v1/filings``; no access entry, since a citizen reading their
own data is not recorded) is measured with the permission check and the audit entry off: the
audit entry is written by the same SQL statement as the expediente and its number
(``cases.actions._insert_filing_postgres`` -> ``audit.record_with_statement``), so *off* runs
that statement without its two audit CTEs and without the after-commit sealing. Estimate 2
(time inside) counts only the permission check there, since the statement's time is mostly
the expediente's own.

The lead records figures in bench/RESULTS.md; a loaded machine gives noisy medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tambo.settings.dev")
os.environ.setdefault("TAMBO_AUDIT_SEAL_INTERVAL", "3600")
os.environ.setdefault("TAMBO_LOG_LEVEL", "WARNING")
os.environ.setdefault("TAMBO_ALLOWED_HOSTS", "testserver")
os.environ.setdefault("TAMBO_RATE_LIMIT_FILING", "100000000/60")


class Switch:
    """Swap functions in every loaded ``tambo`` module: timed (on) or stand-ins (off)."""

    def __init__(self) -> None:
        self.inside = 0.0  # seconds spent inside the wrapped calls since the last reset
        self._depth = 0
        self._swaps: list[tuple[Any, str, Any, Any, Any]] = []  # module, name, orig, timed, off

    def add(
        self, original: Callable[..., Any], stand_in: Callable[..., Any], *, timed_on: bool = True
    ) -> None:
        """Swap ``original`` for ``stand_in`` when off; when on, time it (``timed_on``) or
        leave it as it is (a call that does more than what is measured, such as the filing's
        statement that also writes the audit entry)."""
        timed = self._timed(original) if timed_on else original
        for module in list(sys.modules.values()):
            if not getattr(module, "__name__", "").startswith("tambo"):
                continue
            for name, value in list(vars(module).items()):
                if value is original:
                    self._swaps.append((module, name, original, timed, stand_in))

    def _timed(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._depth += 1
            start = time.perf_counter() if self._depth == 1 else 0.0
            try:
                return original(*args, **kwargs)
            finally:
                if self._depth == 1:
                    self.inside += time.perf_counter() - start
                self._depth -= 1

        return timed

    def on(self) -> None:
        for module, name, _orig, timed, _off in self._swaps:
            setattr(module, name, timed)

    def off(self) -> None:
        for module, name, _orig, _timed, stand_in in self._swaps:
            setattr(module, name, stand_in)

    def restore(self) -> None:
        for module, name, original, _timed, _off in self._swaps:
            setattr(module, name, original)


def _world() -> dict[str, Any]:
    """The bench's citizen, official (verified session and token) and expediente."""
    import random

    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tambo.cases import actions
    from tambo.cases.models import Filing
    from tambo.catalog.loader import load_directory
    from tambo.catalog.models import OrgUnit, Procedure
    from tambo.demo.samples import sample_answers
    from tambo.identity.models import ApiToken, Appointment, User

    call_command("migrate", verbosity=0)
    if not Procedure.objects.exists():
        load_directory(settings.TAMBO_CATALOG_DIR)
    citizen, _ = User.objects.get_or_create(
        username="bench-policy-citizen",
        defaults={"document_type": "dni", "document_number": "49000002"},
    )
    official, created = User.objects.get_or_create(username="bench-policy-official")
    if created:
        for unit in OrgUnit.objects.filter(agency__code="MDSI"):
            for role in ("front_desk", "evaluator"):
                Appointment.objects.create(user=official, unit=unit, role=role)
    device = TOTPDevice.objects.filter(user=official, confirmed=True).first()
    device = device or TOTPDevice.objects.create(user=official, name="bench", confirmed=True)
    proc = Procedure.objects.get(agency__code="MDSI", code="ACCESO-INFORMACION")
    answers = sample_answers(proc.current_version.file, random.Random(1))
    filing = Filing.objects.filter(citizen=citizen).first()
    if filing is None:
        filing = actions.file_directly(citizen, proc, answers).filing

    web = Client()
    web.force_login(official)
    session = web.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id  # as otp_login does
    session.save()
    official_api = Client(headers={"Authorization": f"Bearer {ApiToken.issue(official, 'b')[1]}"})
    citizen_api = Client(headers={"Authorization": f"Bearer {ApiToken.issue(citizen, 'b')[1]}"})
    return {
        "number": filing.number,
        "web": web,
        "official_api": official_api,
        "citizen_api": citizen_api,
        "filing_body": {"agency": "MDSI", "procedure": "ACCESO-INFORMACION", "answers": answers},
    }


def _measure(
    switch: Switch, request: Callable[[], Any], rounds: int, *, expect: int
) -> dict[str, float]:
    on: list[float] = []
    off: list[float] = []
    shares: list[float] = []
    for i in range(rounds + 20):
        for state in ("on", "off") if i % 2 == 0 else ("off", "on"):
            switch.on() if state == "on" else switch.off()
            switch.inside = 0.0
            start = time.perf_counter()
            response = request()
            elapsed = time.perf_counter() - start
            if response.status_code != expect:  # measuring a refusal would prove nothing
                switch.restore()
                raise SystemExit(f"{state}: {response.status_code} {response.content[:300]!r}")
            if i < 20:
                continue  # warm-up
            if state == "on":
                on.append(elapsed * 1000)
                shares.append(switch.inside / elapsed * 100)
            else:
                off.append(elapsed * 1000)
    switch.restore()
    median_on, median_off = statistics.median(on), statistics.median(off)
    return {
        "on": median_on,
        "off": median_off,
        "difference": (median_on - median_off) / median_on * 100,
        "inside": statistics.median(shares),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=400)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("run it on PostgreSQL (DATABASE_URL)")
    world = _world()
    # Imported so that every module holding these functions is loaded before the swap.
    import tambo.cases.api
    import tambo.cases.office_api
    import tambo.cases.office_views
    import tambo.cases.views  # noqa: F401
    from tambo.core import audit
    from tambo.core.sql import bound_cursor
    from tambo.identity import policy
    from tambo.privacy import access

    def statement_without_audit(
        prelude: str, params: list[Any], _oid: str, returning: str, *a, **k
    ):
        """The caller's own statement (the expediente, its number, its answers) without the
        audit entry's two CTEs and without the after-commit sealing."""
        with bound_cursor() as cursor:
            cursor.execute(f"WITH {prelude} SELECT {returning}", params)
            return cursor.fetchone()

    filing = Switch()
    filing.add(policy.allows, lambda *a, **k: True)
    filing.add(policy.require, lambda *a, **k: None)
    filing.add(audit.record_with_statement, statement_without_audit, timed_on=False)
    full = Switch()
    full.add(policy.allows, lambda *a, **k: True)
    full.add(policy.require, lambda *a, **k: None)
    full.add(access.record_filing_access, lambda *a, **k: 0)

    number = world["number"]
    rows = [
        (
            f"GET /oficina/expedientes/{number}/ (official, session)",
            full,
            lambda: world["web"].get(f"/oficina/expedientes/{number}/"),
            200,
        ),
        (
            f"GET /api/v1/office/filings/{number} (official, token)",
            full,
            lambda: world["official_api"].get(f"/api/v1/office/filings/{number}"),
            200,
        ),
        (
            f"GET /api/v1/filings/{number} (official, token)",
            full,
            lambda: world["official_api"].get(f"/api/v1/filings/{number}"),
            200,
        ),
        (
            "POST /api/v1/filings (citizen files; check + audit entry)",
            filing,
            lambda: world["citizen_api"].post(
                "/api/v1/filings", world["filing_body"], content_type="application/json"
            ),
            201,
        ),
    ]
    print(f"PostgreSQL {connection.pg_version}; {args.rounds} rounds each, on/off alternated")
    print(f"{'request':62} {'on ms':>7} {'off ms':>7} {'on-off':>7} {'inside':>7}")
    for name, switch, request, expect in rows:
        r = _measure(switch, request, args.rounds, expect=expect)
        print(
            f"{name:62} {r['on']:7.2f} {r['off']:7.2f} {r['difference']:6.1f}% {r['inside']:6.1f}%"
        )
    print("on-off: (median on - median off) / median on; inside: median share of the request")
    print("spent inside the permission check and the access + audit entry (target <= 10%).")


if __name__ == "__main__":
    main()
