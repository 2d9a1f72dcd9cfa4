"""Whether the signed-in user is an official or an intermediary (to show their links), and
when an official's idle session ends (the page states it: WCAG 2.2.1)."""

import datetime as dt

from django.conf import settings

from tambo.core import clock

from . import policy


def roles(request):
    user = getattr(request, "user", None)
    signed_in = bool(user and user.is_authenticated)
    return {
        "is_official": signed_in and policy.is_official(user),
        "is_intermediary": signed_in and bool(policy.intermediary_units(user)),
    }


def session_timeout(request):
    """When this session ends if idle, for the notice and the warning dialog (officials only)."""
    ends = getattr(request, "tambo_session_ends", None)
    user = getattr(request, "user", None)
    if ends is None or not (user is not None and user.is_verified()):
        return {}  # not an official, or still on the second-factor page
    remaining = max(0, int(ends - clock.now().timestamp()))
    at = dt.datetime.fromtimestamp(ends, tz=clock.LIMA)
    return {
        "session_timeout": {
            "ends_at": at,
            "ends_display": at.strftime("%H:%M"),
            "remaining": remaining,
            "warn": min(settings.TAMBO_SESSION_WARNING_SECONDS, remaining),
            "warn_display": "{}:{:02d}".format(*divmod(settings.TAMBO_SESSION_WARNING_SECONDS, 60)),
            "idle_minutes": settings.TAMBO_OFFICIAL_IDLE_SECONDS // 60,
        }
    }
