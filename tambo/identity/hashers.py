"""Argon2id with OWASP's recommended minimum cost instead of Django's heavier default.

Django's default (100 MiB, 8 lanes) took about a second per login on a 2-core server, which
turns a burst of logins into a denial of service. OWASP's password storage guidance allows
m=19 MiB, t=2, p=1; a deployment can raise the cost with TAMBO_ARGON2_* settings. Existing
hashes keep their own parameters and are upgraded at the next login (``must_update``).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


class TamboArgon2PasswordHasher(Argon2PasswordHasher):
    @property
    def time_cost(self) -> int:  # type: ignore[override]
        return settings.TAMBO_ARGON2_TIME_COST

    @property
    def memory_cost(self) -> int:  # type: ignore[override]
        return settings.TAMBO_ARGON2_MEMORY_KIB

    @property
    def parallelism(self) -> int:  # type: ignore[override]
        return settings.TAMBO_ARGON2_PARALLELISM
