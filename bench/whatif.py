"""What-if experiments: the production code plus named monkeypatches, to measure the gain
of a proposed change before anyone writes it. Bench only; never used by `make bench`
unless ``run.py --whatif NAMES`` is given, and the report then says so on top.

gunicorn loads ``whatif:application`` (with ``--pythonpath bench``); the patches named in
``TAMBO_BENCH_WHATIF`` (comma-separated) are applied once per worker, after Django is set up:

- ``token-cache``: the Bearer token lookup is cached per process for 10 s (not adopted: a
  revoked token or a disabled account must stop working at once).
- ``rpc``: (handled by run.py) ``random_page_cost = 1.1`` for the bench database (the
  usual setting for SSD storage), set before the server starts.

Measured what-ifs that became production code are gone from this list: the version keeping its
procedure, the one-statement audit entry (PostgreSQL), ANALYZE after catalogue loads, the
trigram index without a pending list, the per-process procedure cache, and the shorter counter
lock (number, expediente and audit entry in one statement) that ``no-lock`` bounded.
"""

from __future__ import annotations

import os
import time
from typing import Any

PATCHES = ("token-cache", "rpc")


def _token_cache() -> None:
    from tambo import api as tambo_api
    from tambo.identity.models import ApiToken
    from tambo.identity.tokens import user_for_token

    cache: dict[str, tuple[float, Any]] = {}

    def authenticate(self: Any, request: Any, token: str) -> Any:
        digest = ApiToken.hash(token)
        now = time.monotonic()
        hit = cache.get(digest)
        if hit is None or now - hit[0] > 10:
            hit = (now, user_for_token(token))
            cache[digest] = hit
        if hit[1] is None:
            return None
        request.user = hit[1]
        return hit[1]

    tambo_api.BearerToken.authenticate = authenticate


def apply(names: list[str]) -> list[str]:
    applied = []
    for name in names:
        if name == "token-cache":
            _token_cache()
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
