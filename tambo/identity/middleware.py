"""Signed-in people read Tambo in the language saved on their account.

Runs after the authentication middleware: the cookie set by the language switch still
serves anonymous visitors; a signed-in user's saved choice wins, so their choice follows
them to another device and is the one their notices use.
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
        if user is not None and user.is_authenticated and not request.path.startswith("/api/"):
            language = language_of(user)
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = self.get_response(request)
        if user is not None and user.is_authenticated and not request.path.startswith("/api/"):
            response.headers.setdefault("Content-Language", translation.get_language())
        return response
