"""Benchmark of signed documents: render + sign N one-page resolutions, p50/p95 in ms.

    .venv/bin/python bench/bench_sign.py          # N=30
    .venv/bin/python bench/bench_sign.py -n 100

Runs in one process with the test settings (in-memory SQLite, temporary media and keys):
creates one agency and the demo PKI, issues one resolution to warm up WeasyPrint
(fonts) and pyHanko, then issues N resolutions with ``tambo.documents.actions.issue_pdf``,
each in its own transaction, timing WeasyPrint's rendering, pyHanko's signing and the whole
call (template, QR code, storage, register row and audit entry included).
Target: p50 of render + sign under 300 ms.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

TARGET_P50_MS = 300.0


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def timed(store: list[float], func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            store.append((time.perf_counter() - started) * 1000)

    return wrapper


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="resolutions to issue (default 30)")
    args = parser.parse_args()

    os.environ["DJANGO_SETTINGS_MODULE"] = "tambo.settings.test"
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    logging.getLogger("weasyprint").setLevel(logging.WARNING)  # no per-page progress lines
    from django.conf import settings
    from django.core.management import call_command
    from django.db import transaction

    from tambo.catalog.models import Agency
    from tambo.documents import actions, keys

    call_command("migrate", verbosity=0)
    agency = Agency.objects.create(
        code="MDSI",
        name="Municipalidad Distrital de San Isidro",
        type="municipality",
        ruc="20131377224",
        ubigeo="150131",
        opening_hours="Lunes a viernes de 8:00 a 17:00",
    )
    keys.create_demo_pki(settings.TAMBO_SIGNING_KEYS, {agency.code: agency.name})

    render_ms: list[float] = []
    sign_ms: list[float] = []
    actions.render_pdf = timed(render_ms, actions.render_pdf)
    actions.sign_pdf = timed(sign_ms, actions.sign_pdf)

    def issue(index: int) -> float:
        number = f"{index:03d}-2026-GDU/MDSI"
        filing = f"MDSI-2026-{index:07d}"
        started = time.perf_counter()
        with transaction.atomic():
            actions.issue_pdf(
                agency=agency,
                kind="resolution",
                title=f"Resolución de Gerencia N° {number}",
                template_name="documents/sample_resolution_pdf.html",
                context={
                    "agency_name": agency.name,
                    "unit_name": "Gerencia de Desarrollo Urbano",
                    "number": f"RESOLUCIÓN DE GERENCIA N° {number}",
                    "filing_number": filing,
                    "procedure_name": "Licencia de funcionamiento para establecimientos de riesgo bajo",
                    "applicant_name": "Rosa Quispe Mamani",
                    "applicant_document": "40123456",
                    "address": "Av. Javier Prado Oeste 1234, San Isidro",
                    "decision": "APROBAR",
                    "official_name": "Carla Mendoza Ríos",
                    "official_role": "Gerente de Desarrollo Urbano",
                },
                subject_type="filing",
                subject_id=filing,
                public_fields={
                    "tipo": "Resolución de Gerencia",
                    "numero": number,
                    "expediente": filing,
                },
                actor=None,
            )
        return (time.perf_counter() - started) * 1000

    cold_total = issue(0)
    cold = (render_ms.pop(), sign_ms.pop())
    totals = [issue(i) for i in range(1, args.n + 1)]
    both = [r + s for r, s in zip(render_ms, sign_ms, strict=True)]

    print(
        f"bench_sign: {args.n} one-page resolutions, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPU, {platform.platform()}"
    )
    print(
        f"warm-up (first document): render {cold[0]:.0f} ms, sign {cold[1]:.0f} ms, "
        f"issue_pdf {cold_total:.0f} ms"
    )
    print(f"{'':22}{'p50':>8}{'p95':>8}{'max':>8}   (ms)")
    for label, values in (
        ("render (WeasyPrint)", render_ms),
        ("sign (pyHanko PAdES)", sign_ms),
        ("render + sign", both),
        ("issue_pdf, whole call", totals),
    ):
        print(
            f"{label:22}{percentile(values, 50):8.1f}{percentile(values, 95):8.1f}{max(values):8.1f}"
        )
    p50 = percentile(both, 50)
    verdict = "met" if p50 < TARGET_P50_MS else "NOT met"
    print(f"target p50(render + sign) < {TARGET_P50_MS:.0f} ms: {verdict} ({p50:.1f} ms)")
    return 0 if p50 < TARGET_P50_MS else 1


if __name__ == "__main__":
    sys.exit(main())
