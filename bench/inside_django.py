"""Tasks that run inside Django against the bench database (started by run.py as a
subprocess with the server's environment). Each prints one JSON document on stdout.

    python bench/inside_django.py setup 32        # citizens + tokens + a filing payload
    python bench/inside_django.py search 100 q1 q2 ...  # in-process search_procedures timing
    python bench/inside_django.py setup_load 200 200    # citizens, officials, filings for locust
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from typing import Any

PREFERRED_PROCEDURES = [
    ("MDSI", "ACCESO-INFORMACION"),
    ("MTC", "ACCESO-INFORMACION"),
    ("OSIPTEL", "ACCESO-INFORMACION"),
]


def _setup_django() -> None:
    if "DATABASE_URL" not in os.environ or "bench" not in os.environ["DATABASE_URL"]:
        raise SystemExit("refusing to run outside the bench database (DATABASE_URL)")
    import django

    django.setup()


def setup(count: int) -> dict[str, Any]:
    """Create ``count`` citizens with one API token each; pick a procedure without uploads."""
    from django.db import transaction

    from tambo.catalog.queries import get_procedure, published_procedures
    from tambo.demo.samples import sample_answers
    from tambo.identity.models import ApiToken, DocumentType, User

    tokens = []
    with transaction.atomic():
        for i in range(count):
            user = User(
                username=f"bench-citizen-{i:03d}",
                first_name="Vecino",
                last_name=f"Benchmark {i:03d}",
                document_type=DocumentType.DNI,
                document_number=f"{40_000_000 + i}",
                email=f"bench{i:03d}@example.pe",
            )
            user.set_unusable_password()  # tokens only: no password hashing cost
            user.save()
            tokens.append(ApiToken.issue(user, "bench")[1])

    def needs_upload(procedure: Any) -> bool:
        return any(f.type == "file" and f.required for f in procedure.current_version.file.form)

    candidates = [get_procedure(a, c) for a, c in PREFERRED_PROCEDURES]
    candidates += list(published_procedures().order_by("agency__code", "code"))
    procedure = next(p for p in candidates if p is not None and not needs_upload(p))
    form = procedure.current_version.file
    answers = sample_answers(form, random.Random(2026))
    return {
        "tokens": tokens,
        "filing_body": {
            "agency": procedure.agency.code,
            "procedure": procedure.code,
            "answers": answers,
        },
        "procedure_fields": [f"{f.name}:{f.type}{'' if f.required else '?'}" for f in form.form],
    }


def setup_load(citizens: int, filings: int) -> dict[str, Any]:
    """Everything the locust scenario needs: tokens, forms, real expedientes to look up.

    Citizens get a token each; MDSI gets one official per role of the unit that receives
    the chosen procedures (front desk, evaluator, signer), with tokens for the office API;
    ``filings`` expedientes are filed through the real action so status lookups and the
    officials' queues have real work.
    """
    from django.db import transaction

    from tambo.cases import actions
    from tambo.catalog.queries import get_procedure, published_procedures
    from tambo.demo.samples import file_fields, sample_answers
    from tambo.identity.models import ApiToken, Appointment, DocumentType, User

    rng = random.Random(2026)
    base = setup(citizens)
    users = list(User.objects.filter(username__startswith="bench-citizen-").order_by("pk"))
    plain = get_procedure(base["filing_body"]["agency"], base["filing_body"]["procedure"])
    # A procedure with file fields, preferably handled by the same unit (same officials).
    uploads = [p for p in published_procedures() if file_fields(p.current_version.file)]
    uploads.sort(key=lambda p: (p.unit_id != plain.unit_id, p.agency_id != plain.agency_id, p.code))
    with_upload = uploads[0]
    officials = []
    with transaction.atomic():
        for role in ("front_desk", "evaluator", "signer"):
            official = User.objects.create(
                username=f"bench-{role}",
                first_name="Servidor",
                last_name=role,
                document_type=DocumentType.DNI,
                document_number=f"{41_000_000 + len(officials)}",
            )
            official.set_unusable_password()
            official.save()
            Appointment.objects.create(user=official, unit_id=plain.unit_id, role=role)
            officials.append({"role": role, "token": ApiToken.issue(official, "bench")[1]})
    lookups = []
    for i in range(filings):
        filing = actions.file_directly(
            users[i % len(users)], plain, sample_answers(plain.current_version.file, rng)
        ).filing
        lookups.append([filing.number, filing.access_code])
    upload_form = with_upload.current_version.file
    return {
        **base,
        "officials": officials,
        "unit_id": plain.unit_id,
        "lookups": lookups,
        "upload_procedure": {
            "agency": with_upload.agency.code,
            "procedure": with_upload.code,
            "answers": sample_answers(upload_form, rng),
            "file_fields": [f.name for f in file_fields(upload_form)],
        },
        "procedure_pages": [
            f"/tramites/{p.agency.code}/{p.code}/"
            for p in published_procedures().order_by("agency__code", "code")
        ],
    }


def search(repeats: int, queries: list[str]) -> dict[str, Any]:
    """Time ``search_procedures`` in this process (ORM + one PostgreSQL round trip)."""
    from django.db import connection

    from tambo.catalog.models import Procedure
    from tambo.catalog.queries import search_procedures

    for q in queries:  # warm-up: connection, query plans, caches
        for _ in range(3):
            search_procedures(q)
    timings: dict[str, list[float]] = {q: [] for q in queries}
    counts: dict[str, int] = {}
    deadline = time.monotonic() + 60
    for _ in range(repeats):
        if time.monotonic() > deadline:
            break
        for q in queries:
            t0 = time.perf_counter()
            found = search_procedures(q)
            timings[q].append((time.perf_counter() - t0) * 1000)
            counts[q] = len(found)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('catalog_procedure'))")
        table_size = cursor.fetchone()[0]
    plans = {q: _scan_of(q) for q in queries}
    return {
        "published": Procedure.objects.filter(
            is_active=True, current_version__isnull=False
        ).count(),
        "table_size": table_size,
        "timings_ms": timings,
        "counts": counts,
        "plans": plans,
    }


def _scan_of(query: str) -> str:
    """How PostgreSQL reads catalog_procedure for this search (from EXPLAIN ANALYZE)."""
    from django.db import connection

    from tambo.catalog.queries import search_procedures

    captured: list[tuple[str, Any]] = []

    def keep(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        search_procedures(query)
    if not captured:
        return "no query"
    sql, params = captured[0]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT TEXT) " + sql, params)
        lines = [r[0].strip() for r in cursor.fetchall()]
    scans = [
        line.split("  (")[0].removeprefix("-> ").strip()
        for line in lines
        if "catalog_procedure" in line and "Scan" in line and "version" not in line
    ]
    total = next((line for line in lines if line.startswith("Execution Time")), "")
    return f"{'; '.join(scans) or 'n/a'} ({total.lower()})"


def main(argv: list[str]) -> None:
    _setup_django()
    task = argv[1] if len(argv) > 1 else ""
    if task == "setup":
        result = setup(int(argv[2]))
    elif task == "setup_load":
        result = setup_load(int(argv[2]), int(argv[3]))
    elif task == "search":
        result = search(int(argv[2]), argv[3:])
    else:
        raise SystemExit(__doc__)
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv)
