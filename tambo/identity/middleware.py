"""Signed-in people read Tambo in the language they chose with the switch, on any device.

Runs after the authentication middleware. Until a person chooses (``User.language`` empty),
Django's LocaleMiddleware decides as for anonymous visitors (cookie, then the browser's
Accept-Language); once they choose, the saved choice wins, so it follows them to another
device and is the language of their notices.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation

from .language import language_of


class UserLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        chosen = (
            user is not None
            and user.is_authenticated
            and bool(user.language)
            and not request.path.startswith("/api/")
        )
        if chosen:
            language = language_of(user)
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)
