"""What recording an access costs, against the request that records it (issue 4, part 3).

Run on PostgreSQL: ``DATABASE_URL=postgres://.../<db> .venv/bin/python bench/bench_privacy.py``
(the database is migrated and given the demo catalogue, one citizen, one official and one
expediente if it has none). It measures, in process (no network):

- ``record_filing_access`` alone (access row + audit entry + sealing queue, one statement);
- ``GET /api/v1/office/filings/{n}`` and ``GET /oficina/expedientes/{n}/`` (which record it).

Target: the access entry + audit entry <= 10% of the request.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tambo.settings.dev")
os.environ.setdefault("TAMBO_AUDIT_SEAL_INTERVAL", "3600")
os.environ.setdefault("TAMBO_LOG_LEVEL", "WARNING")
os.environ.setdefault("TAMBO_ALLOWED_HOSTS", "testserver")


def main(rounds: int = 300) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from tambo.catalog.loader import load_directory
    from tambo.catalog.models import OrgUnit, Procedure
    from tambo.demo.samples import sample_answers
    from tambo.identity.models import Appointment, User
    from tambo.privacy.access import record_filing_access

    if connection.vendor != "postgresql":
        raise SystemExit("run it on PostgreSQL (DATABASE_URL)")
    call_command("migrate", verbosity=0)
    if not Procedure.objects.exists():
        load_directory(settings.TAMBO_CATALOG_DIR)
    from tambo.cases import actions
    from tambo.cases.models import Filing

    citizen, _ = User.objects.get_or_create(
        username="bench-citizen", defaults={"document_type": "dni", "document_number": "49000001"}
    )
    official, created = User.objects.get_or_create(username="bench-official")
    if created:
        for unit in OrgUnit.objects.filter(agency__code="MDSI"):
            Appointment.objects.create(user=official, unit=unit, role="evaluator")
    filing = Filing.objects.filter(citizen=citizen).first()
    if filing is None:
        import random

        proc = Procedure.objects.get(agency__code="MDSI", code="ACCESO-INFORMACION")
        answers = sample_answers(proc.current_version.file, random.Random(1))
        filing = actions.file_directly(citizen, proc, answers).filing
    filing = Filing.objects.select_related("agency").get(pk=filing.pk)

    def timed(fn) -> list[float]:  # type: ignore[no-untyped-def]
        for _ in range(20):
            fn()
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - start) * 1000)
        return samples

    def record() -> None:  # as a GET view calls it: outside a transaction
        record_filing_access(official, filing, [("filing", "")])

    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    # An official's session must have passed the second factor, or every request below is
    # the middleware's redirect (page) or 401 (API), not the request meant to be measured.
    device = TOTPDevice.objects.filter(user=official, confirmed=True).first()
    device = device or TOTPDevice.objects.create(user=official, name="bench", confirmed=True)
    client = Client()
    client.force_login(official)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id  # as django_otp.login does
    session.save()
    for url in (
        f"/api/v1/office/filings/{filing.number}",
        f"/oficina/expedientes/{filing.number}/",
    ):
        answered = client.get(url).status_code
        if answered != 200:
            raise SystemExit(f"{url} answered {answered}, not 200: nothing to measure")
    api_url = f"/api/v1/office/filings/{filing.number}"
    page_url = f"/oficina/expedientes/{filing.number}/"
    rows = [
        ("record_filing_access (1 statement)", timed(record)),
        (f"GET {api_url}", timed(lambda: client.get(api_url))),
        (f"GET {page_url}", timed(lambda: client.get(page_url))),
    ]
    print(f"{'what':58} {'median ms':>10} {'p95 ms':>8}")
    for name, samples in rows:
        p95 = sorted(samples)[int(0.95 * (len(samples) - 1))]
        print(f"{name:58} {statistics.median(samples):10.2f} {p95:8.2f}")
    share = statistics.median(rows[0][1]) / statistics.median(rows[1][1]) * 100
    print(f"recording = {share:.1f}% of the office API request (median)")


if __name__ == "__main__":
    main()
