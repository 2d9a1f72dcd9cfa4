"""Whether the signed-in user is an official or an intermediary (to show their links)."""

from . import policy


def roles(request):
    user = getattr(request, "user", None)
    signed_in = bool(user and user.is_authenticated)
    return {
        "is_official": signed_in and policy.is_official(user),
        "is_intermediary": signed_in and bool(policy.intermediary_units(user)),
    }
