"""Per-client rate limits on the pages that attract abuse: login, filing, status, verification.

A fixed window counter in Django's cache: the key holds the scope, who is asking (client IP or
user) and the window number, so a window that has passed is simply a key nobody reads again.
The usual request costs one ``incr``; the first request of a window adds the key. The window
number comes from :mod:`tambo.core.clock`, so tests move through windows honestly.

The default cache is per process (locmem): with several processes each counts on its own, so
a deployment with more than one process sets ``TAMBO_CACHE_URL`` to a shared Redis (see
docs/security.md).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from . import clock
from .errors import DomainError


@dataclass(frozen=True)
class Limit:
    """At most ``count`` requests per ``seconds``-long window."""

    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Limit:
        """``"10/60"``: ten per sixty seconds."""
        count, _sep, seconds = text.partition("/")
        limit = cls(int(count), int(seconds or 60))
        if limit.count < 1 or limit.seconds < 1:
            raise ValueError(f"rate limit {text!r} must be positive")
        return limit


class RateLimited(DomainError):
    """Too many requests from this client; ``retry_after`` says when to try again."""

    status = 429
    code = "rate_limited"

    def __init__(self, retry_after: int):
        super().__init__(
            _(
                "Hizo demasiados intentos seguidos. Espere %(seconds)s segundos "
                "y vuelva a intentarlo."
            )
            % {"seconds": retry_after}
        )
        self.retry_after = retry_after


def limit_for(scope: str) -> Limit:
    return Limit.parse(settings.TAMBO_RATE_LIMITS[scope])


def client_ip(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or the trusted proxy's header when configured.

    Behind a reverse proxy every request comes from the proxy, so ``TAMBO_CLIENT_IP_HEADER``
    names the header it sets (for example ``X-Forwarded-For``). Only the right-most
    ``TAMBO_TRUSTED_PROXIES`` entries are trusted: anything left of them the client could forge.
    """
    header = settings.TAMBO_CLIENT_IP_HEADER
    if header:
        meta_key = "HTTP_" + header.upper().replace("-", "_")
        hops = [h.strip() for h in request.META.get(meta_key, "").split(",") if h.strip()]
        depth = max(settings.TAMBO_TRUSTED_PROXIES, 1)
        if len(hops) >= depth:
            return hops[-depth]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def client_key(request: HttpRequest, *, per_user: bool = False) -> str:
    """Who is counted: the signed-in user when ``per_user``, otherwise the client's IP."""
    user = getattr(request, "user", None)
    if per_user and user is not None and user.is_authenticated:
        return f"u{user.pk}"
    return "ip" + client_ip(request)


def hit(scope: str, who: str) -> None:
    """Count one request of ``who`` in ``scope``; raise :class:`RateLimited` over the limit."""
    limit = limit_for(scope)
    now = clock.now().timestamp()
    window = int(now // limit.seconds)
    key = f"rl:{scope}:{who}:{window}"
    cache = caches[settings.TAMBO_RATE_LIMIT_CACHE]
    try:
        count = cache.incr(key)
    except ValueError:
        # First request of the window (or the key was evicted): start counting at one.
        count = 1 if cache.add(key, 1, timeout=limit.seconds + 1) else cache.incr(key)
    if count > limit.count:
        retry_after = max(1, math.ceil((window + 1) * limit.seconds - now))
        raise RateLimited(retry_after)


def check(request: HttpRequest, scope: str, *, per_user: bool = False) -> None:
    """Count this request in ``scope`` (API endpoints call this; views use the decorator)."""
    hit(scope, client_key(request, per_user=per_user))


def too_many_page(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    """The 429 page: what happened and how long to wait, with ``Retry-After``."""
    response = render(request, "429.html", {"message": exc.message}, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


def rate_limit(
    scope: str, *, methods: tuple[str, ...] = ("POST",), per_user: bool = False
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Decorate a view: requests with one of ``methods`` count against ``scope``.

    A GET that only shows an empty form costs nothing; the decorated view may also count
    a GET itself with :func:`check` when the GET does the work (a lookup by query string).
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method in methods:
                try:
                    check(request, scope, per_user=per_user)
                except RateLimited as exc:
                    return too_many_page(request, exc)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
