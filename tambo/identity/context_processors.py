"""Whether the signed-in user is an official (to show the office link)."""

from . import policy


def roles(request):
    user = getattr(request, "user", None)
    return {"is_official": bool(user and user.is_authenticated and policy.is_official(user))}
