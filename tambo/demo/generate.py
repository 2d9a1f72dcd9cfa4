"""Bulk expedientes for demos, benchmarks and fault tests: N rows with one set-based INSERT.

``tambo demo --scale N``, ``bench/bench_backoffice.py`` and the sweep fault test share this
generator, so the data a benchmark measured is the data an operator can recreate. PostgreSQL
only: one ``INSERT ... SELECT FROM generate_series`` writes a million rows in well under a
minute, where creating them one action at a time would take hours.

The rows are realistic for the back office, not for the audit trail: they spread over the
given agencies' published procedures (round robin), their org units and workflow states
(30 % received, 50 % in evaluation, 10 % ready for decision, 10 % observed), with receipt dates
over the 45 days before ``today`` and terms of 14 to 42 days, so a sweep on ``today`` has
warnings, overdue cases and silences to apply. Numbers continue each agency's counter for the
year (and the counter is moved past them), so real filings made afterwards never collide.
Generated rows have channel ``generated`` and empty answers; no audit entries are written for
them (they were never filed through an action).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import connection, transaction

from tambo.cases.models import Filing, FilingCounter
from tambo.catalog.models import Agency
from tambo.identity.models import User

CHANNEL = "generated"

_INSERT = """
WITH procs AS (
    SELECT row_number() OVER (ORDER BY p.id) - 1 AS k, p.unit_id, p.current_version_id, p.agency_id,
           a.code AS agency_code
    FROM catalog_procedure p JOIN catalog_agency a ON a.id = p.agency_id
    WHERE a.code = ANY(%(agencies)s) AND p.current_version_id IS NOT NULL
), n AS (SELECT count(*) AS c FROM procs),
citizens AS (SELECT row_number() OVER () - 1 AS k, id FROM unnest(%(citizens)s::bigint[]) AS id),
rows AS (
    SELECT g, pr.*, c.id AS citizen_id,
           row_number() OVER (PARTITION BY pr.agency_id ORDER BY g) AS seq
    FROM generate_series(1, %(rows)s) AS g
    CROSS JOIN n
    JOIN procs pr ON pr.k = g %% n.c
    JOIN citizens c ON c.k = g %% cardinality(%(citizens)s::bigint[])
)
INSERT INTO cases_filing (
    number, agency_id, unit_id, procedure_version_id, citizen_id, draft_id, idempotency_key, channel,
    answers, submitted_at, received_on, term_starts_on, due_on, due_soon_on, silence_on, fee, status,
    handled_by, is_open, term_running, suspended_since, correction_due_on, appeal_due_on, decided_at,
    assignee_id, warned_due_soon_at, warned_overdue_at, negative_silence_noticed_at, pending_document,
    access_code, lock_version, updated_at)
SELECT
    x.agency_code || '-' || %(year)s || '-' || lpad((COALESCE(fc.last, 0) + x.seq)::text, 7, '0'),
    x.agency_id, x.unit_id, x.current_version_id, x.citizen_id,
    NULL, NULL, %(channel)s, '{}'::jsonb, (r.received + time '10:00') AT TIME ZONE 'America/Lima',
    r.received, r.received + 1, r.received + r.term, r.received + (r.term * 4 / 5),
    r.received + r.term + 8, 0,
    s.status, s.role, true, s.status <> 'observed', CASE WHEN s.status = 'observed' THEN r.received + 2 END,
    CASE WHEN s.status = 'observed' THEN %(today)s::date + (x.g %% 3) END, NULL, NULL, NULL, NULL, NULL, NULL,
    '', upper(substr(md5(x.g::text || random()::text), 1, 8)), 0, now()
FROM rows x
LEFT JOIN cases_filingcounter fc ON fc.agency_id = x.agency_id AND fc.year = %(year)s
CROSS JOIN LATERAL (SELECT %(today)s::date - (x.g %% 45) AS received, 14 + (x.g %% 29) AS term) r
CROSS JOIN LATERAL (SELECT CASE
    WHEN (x.g / 7) %% 10 < 3 THEN 'received' WHEN (x.g / 7) %% 10 < 8 THEN 'in_evaluation'
    WHEN (x.g / 7) %% 10 < 9 THEN 'ready_for_decision' ELSE 'observed' END AS status) s0
CROSS JOIN LATERAL (SELECT s0.status, CASE s0.status WHEN 'received' THEN 'front_desk'
    WHEN 'in_evaluation' THEN 'evaluator' WHEN 'ready_for_decision' THEN 'signer' ELSE 'citizen' END AS role) s
"""


def require_postgresql() -> None:
    if connection.vendor != "postgresql":
        raise RuntimeError(
            "generating expedientes in bulk needs PostgreSQL (set DATABASE_URL); "
            "the embedded SQLite database has only the hand-made demo cases"
        )


def make_citizens(count: int, prefix: str = "demo-ciudadano") -> list[int]:
    """``count`` citizens ``<prefix>-000001``...(no usable password), created once; their ids."""
    wanted = [f"{prefix}-{i:06d}" for i in range(1, count + 1)]
    existing = set(User.objects.filter(username__in=wanted).values_list("username", flat=True))
    taken = set(
        User.objects.filter(document_type="dni", document_number__startswith="9").values_list(
            "document_number", flat=True
        )
    )
    new = []
    number = 90000000
    for username in wanted:
        if username in existing:
            continue
        while f"{number:08d}" in taken:
            number += 1
        user = User(
            username=username,
            first_name="Ciudadano",
            last_name=username.rsplit("-", 1)[1],
            document_type="dni",
            document_number=f"{number:08d}",
        )
        user.set_unusable_password()
        new.append(user)
        number += 1
    User.objects.bulk_create(new, batch_size=2000)
    return list(
        User.objects.filter(username__in=wanted).order_by("pk").values_list("pk", flat=True)
    )


def generate_filings(
    rows: int, today: dt.date, citizen_ids: Sequence[int], agencies: Sequence[str] | None = None
) -> int:
    """Insert ``rows`` open expedientes (see the module docstring); returns how many."""
    require_postgresql()
    if rows <= 0:
        return 0
    if not citizen_ids:
        raise ValueError("generated expedientes need at least one citizen")
    codes = list(agencies) if agencies else list(Agency.objects.values_list("code", flat=True))
    year = today.year
    with transaction.atomic(), connection.cursor() as cursor:
        # The counters are locked for the insert, so a real filing in the meantime waits and
        # then takes the number after the generated ones.
        for agency_id in Agency.objects.filter(code__in=codes).values_list("pk", flat=True):
            FilingCounter.objects.bulk_create(
                [FilingCounter(agency_id=agency_id, year=year)], ignore_conflicts=True
            )
        list(
            FilingCounter.objects.select_for_update()
            .filter(agency__code__in=codes, year=year)
            .values_list("pk")
        )
        cursor.execute(
            _INSERT,
            {
                "agencies": codes,
                "citizens": list(citizen_ids),
                "rows": rows,
                "today": today,
                "year": str(year),
                "channel": CHANNEL,
            },
        )
        inserted = cursor.rowcount
        cursor.execute(
            "UPDATE cases_filingcounter fc SET last = sub.last FROM ("
            "  SELECT f.agency_id, max(substring(f.number from '([0-9]+)$')::int) AS last"
            "  FROM cases_filing f JOIN catalog_agency a ON a.id = f.agency_id"
            "  WHERE a.code = ANY(%s) AND f.number LIKE a.code || '-' || %s || '-%%'"
            "  GROUP BY f.agency_id) sub "
            "WHERE fc.agency_id = sub.agency_id AND fc.year = %s AND sub.last > fc.last",
            [codes, str(year), year],
        )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Filing._meta.db_table}")
    return inserted
