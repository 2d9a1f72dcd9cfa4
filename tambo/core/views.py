"""Error pages Django asks the project for by setting (CSRF failure)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form came back without its security token (expired page, cookies off, another site).

    The reason Django gives is for the log, not for the citizen: it is not shown.
    """
    return render(request, "403_csrf.html", status=403)
