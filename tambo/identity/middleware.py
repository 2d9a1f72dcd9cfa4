"""Signed-in people read Tambo in the language they chose with the switch, on any device.

Runs after the authentication middleware. Until a person chooses (``User.language`` empty),
Django's LocaleMiddleware decides as for anonymous visitors (cookie, then the browser's
Accept-Language); once they choose, the saved choice wins, so it follows them to another
device and is the language of their notices.

``OfficialSessionMiddleware`` (after django-otp's, which sets ``request.user.is_verified()``):
officials and staff verify a second factor before anything else, and their sessions end after
an idle timeout. Before it ends they are warned and may extend it with one action (WCAG 2.2.1):
the middleware notes when the session will end (``request.tambo_session_ends``), every page
then states it with a "Seguir conectado" button, and ``static/js/session.js`` shows a warning
dialog shortly before (see :func:`touch` and docs/accessibility.md). It only concerns
sessions: API requests with a bearer token carry no session user and are authorised by the
token (see docs/identity.md).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from tambo.core import clock

from . import policy
from .actions import session_expired
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


LAST_SEEN = "tambo_last_seen"
# Paths an official who has not passed the second factor may still reach.
OPEN_PREFIXES = ("/static/", "/i18n/", "/salir/", "/ingresar/")


class OfficialSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and policy.needs_second_factor(user):
            refused = self._idle(request) or self._second_factor(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def _idle(self, request: HttpRequest) -> HttpResponse | None:
        """End an official's session after TAMBO_OFFICIAL_IDLE_SECONDS without a request."""
        now = clock.now().timestamp()
        last = request.session.get(LAST_SEEN)
        if last is not None and now - last > settings.TAMBO_OFFICIAL_IDLE_SECONDS:
            user = request.user
            logout(request)
            session_expired(user)
            messages.info(
                request, _("Su sesión terminó por inactividad. Ingrese de nuevo para continuar.")
            )
            return self._to_login(request)
        # Written at most once a minute, so most requests do not save the session.
        if last is None or now - last >= 60:
            request.session[LAST_SEEN] = last = now
        request.tambo_session_ends = last + settings.TAMBO_OFFICIAL_IDLE_SECONDS
        return None

    def _second_factor(self, request: HttpRequest) -> HttpResponse | None:
        """An official whose session has no verified second factor may only finish the login."""
        if request.user.is_verified() or request.path.startswith(OPEN_PREFIXES):
            return None
        if request.path.startswith("/api/"):
            return JsonResponse(
                {
                    "error": {
                        "code": "second_factor_required",
                        "message": _("Confirme su segundo factor para continuar."),
                        "field": None,
                        "fields": {},
                    }
                },
                status=401,
            )
        query = urlencode({"next": request.get_full_path()})
        return redirect(f"{reverse('identity:second_factor')}?{query}")

    @staticmethod
    def _to_login(request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse(
                {
                    "error": {
                        "code": "not_authenticated",
                        "message": _("Su sesión terminó por inactividad."),
                        "field": None,
                        "fields": {},
                    }
                },
                status=401,
            )
        return redirect(
            f"{reverse('identity:login')}?{urlencode({'next': request.get_full_path()})}"
        )


def touch(request: HttpRequest) -> float:
    """Restart the idle clock of this session now ("Seguir conectado"); return when it now ends."""
    now = clock.now().timestamp()
    request.session[LAST_SEEN] = now
    request.tambo_session_ends = now + settings.TAMBO_OFFICIAL_IDLE_SECONDS
    return request.tambo_session_ends
