"""What-if experiments: the production code plus named monkeypatches, to measure the gain
of a proposed change before anyone writes it. Bench only; never used by `make bench`
unless ``run.py --whatif NAMES`` is given, and the report then says so on top.

gunicorn loads ``whatif:application`` (with ``--pythonpath bench``); the patches named in
``TAMBO_BENCH_WHATIF`` (comma-separated) are applied once per worker, after Django is set up:

- ``proc-cache``: ``get_procedure`` answers from a per-process cache (60 s, like the
  agency closures), and the version keeps its procedure (no lazy query in the response).
- ``token-cache``: the Bearer token lookup is cached per process for 10 s.
- ``no-lock``: UPPER BOUND ONLY, not a proposal: filing numbers come from a PostgreSQL
  sequence instead of the gapless per-agency counter row, so filings never wait on each
  other. It shows how much the counter lock costs, i.e. the most that shortening the
  time it is held (one statement before COMMIT) can give.

Measured what-ifs that became production code are gone from this list: the version keeping its
procedure, the one-statement audit entry (PostgreSQL), ANALYZE after catalogue loads and the
trigram index without a pending list.
- ``rpc``: (handled by run.py) ``random_page_cost = 1.1`` for the bench database (the
  usual setting for SSD storage), set before the server starts.
"""

from __future__ import annotations

import os
import time
from typing import Any

PATCHES = ("proc-cache", "token-cache", "no-lock", "rpc")


def _no_lock() -> None:
    from django.db import DatabaseError, connection

    from tambo.cases import actions

    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE SEQUENCE IF NOT EXISTS bench_whatif_filing_number")
    except DatabaseError:
        pass  # another worker created it at the same moment
    connection.close()

    def _next_number(agency_id: int, agency_code: str, year: int) -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval('bench_whatif_filing_number')")
            return f"{agency_code}-{year}-{cursor.fetchone()[0]:07d}"

    actions._next_number = _next_number


def _proc_cache() -> None:
    from tambo.catalog import queries

    original = queries.get_procedure
    cache: dict[tuple[str, str], tuple[float, Any]] = {}

    def get_procedure(agency_code: str, code: str) -> Any:
        now = time.monotonic()
        hit = cache.get((agency_code, code))
        if hit is not None and now - hit[0] < 60:
            return hit[1]
        procedure = original(agency_code, code)
        if procedure is not None and procedure.current_version is not None:
            procedure.current_version.procedure = procedure
        cache[(agency_code, code)] = (now, procedure)
        return procedure

    queries.get_procedure = get_procedure


def _token_cache() -> None:
    from tambo import api as tambo_api
    from tambo.identity.models import ApiToken

    cache: dict[str, tuple[float, Any]] = {}

    def authenticate(self: Any, request: Any, token: str) -> Any:
        digest = ApiToken.hash(token)
        now = time.monotonic()
        hit = cache.get(digest)
        if hit is None or now - hit[0] > 10:
            found = (
                ApiToken.objects.select_related("user")
                .filter(token_hash=digest, user__is_active=True)
                .first()
            )
            hit = (now, found.user if found is not None else None)
            cache[digest] = hit
        if hit[1] is None:
            return None
        request.user = hit[1]
        return hit[1]

    tambo_api.BearerToken.authenticate = authenticate


def apply(names: list[str]) -> list[str]:
    applied = []
    for name in names:
        if name == "proc-cache":
            _proc_cache()
        elif name == "token-cache":
            _token_cache()
        elif name == "no-lock":
            _no_lock()
        elif name == "rpc":
            continue  # database settings: run.py's business
        else:
            raise ValueError(f"unknown what-if patch {name!r}; known: {', '.join(PATCHES)}")
        applied.append(name)
    return applied


def _application() -> Any:
    from tambo.wsgi import application as wsgi_application

    apply([n for n in os.environ.get("TAMBO_BENCH_WHATIF", "").split(",") if n])
    return wsgi_application


application = _application()
