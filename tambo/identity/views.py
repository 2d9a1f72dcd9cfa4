"""Login and logout: local accounts (with a per-account lock), ID Gob.pe over OpenID Connect,
and the officials' second factor (TOTP, recovery codes); the language switch and the account
page (contact for notices)."""

from __future__ import annotations

import base64
import datetime as dt
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_
from django.views import i18n as i18n_views
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tambo.core import clock
from tambo.core.errors import ValidationFailed

from . import actions, oidc, policy
from . import second_factor as factors

LOCKED_MESSAGE = N_(
    "Por seguridad, el ingreso con esta cuenta está bloqueado por unos minutos tras varios "
    "intentos fallidos. Espere e inténtelo de nuevo."
)


def _second_factor_url(next_url: str, *, enrol: bool = False) -> str:
    name = "identity:second_factor_enrol" if enrol else "identity:second_factor"
    return f"{reverse(name)}?{urlencode({'next': next_url})}"


def _ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(settings.LOGIN_REDIRECT_URL)


class LoginView(auth_views.LoginView):
    """Password login. A locked account name is refused before the password is checked,
    with the same message whether the account exists or not."""

    template_name = "identity/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["oidc_enabled"] = oidc.config() is not None
        return context

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        username = request.POST.get("username", "")
        if actions.locked_until(username):
            actions.login_refused_while_locked(username, ip=_ip(request))
            return self._locked(request)
        form = self.get_form()
        if form.is_valid():
            return self.form_valid(form)
        if username and actions.login_failed(username, ip=_ip(request)):
            return self._locked(request)
        return self.form_invalid(form)

    def _locked(self, request: HttpRequest) -> HttpResponse:
        form = self.get_form_class()(request)
        context = self.get_context_data(form=form, locked_message=_(LOCKED_MESSAGE))
        return self.render_to_response(context, status=429)

    def form_valid(self, form) -> HttpResponse:
        user = form.get_user()
        auth_login(self.request, user)  # also gives the session a new key
        actions.login_succeeded(user, method="password", ip=_ip(self.request))
        return HttpResponseRedirect(self.get_success_url())

    def get_success_url(self) -> str:
        url = super().get_success_url()
        if policy.needs_second_factor(self.request.user):
            return _second_factor_url(url)
        return url


class LogoutView(auth_views.LogoutView):
    """Logging out ends every session of the user, on every device."""

    next_page = "catalog:home"

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            actions.end_all_sessions(user, reason="logout")
        return super().post(request, *args, **kwargs)


# OpenID Connect (ID Gob.pe)

OIDC_MESSAGES = {
    "provider_unavailable": N_(
        "No pudimos comunicarnos con ID Gob.pe. Inténtelo de nuevo en unos minutos."
    ),
    "provider_misconfigured": N_(
        "El ingreso con ID Gob.pe no está disponible por un problema de configuración."
    ),
    "provider_refused": N_("El ingreso con ID Gob.pe fue cancelado o rechazado."),
    "missing_document": N_("ID Gob.pe no nos envió su número de documento de identidad."),
    "account_disabled": N_("Esta cuenta está deshabilitada. Comuníquese con la entidad."),
}
OIDC_GENERIC = N_(
    "No pudimos confirmar su identidad con ID Gob.pe. Vuelva a ingresar desde el inicio; "
    "si el problema continúa, use otro navegador."
)


def _oidc_refused(request: HttpRequest, reason: str) -> HttpResponse:
    actions.oidc_refused(reason, ip=_ip(request))
    status = 502 if reason == "provider_unavailable" else 400
    message = _(OIDC_MESSAGES.get(reason, OIDC_GENERIC))
    return render(request, "identity/oidc_error.html", {"message": message}, status=status)


@require_GET
def oidc_start(request: HttpRequest) -> HttpResponse:
    cfg = oidc.config()
    if cfg is None:
        return render(
            request,
            "identity/oidc_error.html",
            {"message": _("El ingreso con ID Gob.pe no está habilitado en este sitio.")},
            status=404,
        )
    redirect_uri = request.build_absolute_uri(reverse("identity:oidc_callback"))
    next_url = _safe_next(request, request.GET.get("next"))
    try:
        url = oidc.begin(cfg, redirect_uri, request.session, next_url)
    except oidc.OidcError as exc:
        return _oidc_refused(request, exc.reason)
    return HttpResponseRedirect(url)


@require_GET
def oidc_callback(request: HttpRequest) -> HttpResponse:
    cfg = oidc.config()
    if cfg is None:
        return _oidc_refused(request, "not_configured")
    try:
        identity, next_url = oidc.complete(cfg, request.GET.dict(), request.session)
    except oidc.OidcError as exc:
        return _oidc_refused(request, exc.reason)
    user = actions.sign_in_with_identity(identity, ip=_ip(request))
    if not user.is_active:  # the refusal is already in the audit log
        message = _(OIDC_MESSAGES["account_disabled"])
        return render(request, "identity/oidc_error.html", {"message": message}, status=403)
    auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if policy.needs_second_factor(user):
        return redirect(_second_factor_url(next_url))
    return HttpResponseRedirect(next_url)


# Second factor for officials


def _confirmed_totp(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


@login_required
@require_http_methods(["GET", "POST"])
def second_factor(request: HttpRequest) -> HttpResponse:
    """Ask an official for a code from the authenticator app, or a recovery code."""
    user = request.user
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if not policy.needs_second_factor(user) or user.is_verified():
        return HttpResponseRedirect(next_url)
    totp = _confirmed_totp(user)
    if totp is None:
        return redirect(_second_factor_url(next_url, enrol=True))
    error = ""
    if request.method == "POST":
        code = "".join(request.POST.get("code", "").split()).lower()
        device, throttled = _verify(user, totp, code)
        if device is not None:
            request.session.cycle_key()
            otp_login(request, device)
            recovery = isinstance(device, StaticDevice)
            event = "recovery_code_used" if recovery else "verified"
            actions.second_factor_event(user, event, ip=_ip(request))
            if recovery:  # perhaps the phone is lost: offer to register a new one now
                query = urlencode({"next": next_url, "recuperacion": "1"})
                return redirect(f"{reverse('identity:second_factor_replace')}?{query}")
            return HttpResponseRedirect(next_url)
        actions.second_factor_event(user, "failed", ip=_ip(request))
        error = _(THROTTLED) if throttled else _(WRONG_CODE)
    return render(
        request,
        "identity/second_factor.html",
        {"next": next_url, "error": error},
        status=422 if error else 200,
    )


WRONG_CODE = N_(
    "El código no es correcto o ya fue usado. Escriba el código que muestra ahora su aplicación."
)
THROTTLED = N_(
    "Demasiados códigos incorrectos seguidos. Espere unos segundos y escriba el código de nuevo."
)


def _verify(user, totp: TOTPDevice, code: str) -> tuple[TOTPDevice | StaticDevice | None, bool]:
    """The device that accepts ``code`` (authenticator or recovery code), and whether
    django-otp's growing delay after failures refused to check it."""
    if not code or len(code) > 16:
        return None, False
    with transaction.atomic():
        if code.isdigit() and len(code) == 6:
            devices = [TOTPDevice.objects.select_for_update().get(pk=totp.pk)]
        else:
            devices = list(
                StaticDevice.objects.select_for_update().filter(user=user, confirmed=True)
            )
        throttled = False
        for device in devices:
            allowed, _info = device.verify_is_allowed()
            if not allowed:
                throttled = True
            elif device.verify_token(code):
                return device, False
    return None, throttled


def base32_secret(device: TOTPDevice) -> str:
    """The shared secret as the authenticator apps expect it when typed by hand."""
    return base64.b32encode(device.bin_key).decode().rstrip("=")


@login_required
@require_http_methods(["GET", "POST"])
def second_factor_enrol(request: HttpRequest) -> HttpResponse:
    """First login of an official: register an authenticator app, then show recovery codes once."""
    user = request.user
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if not policy.needs_second_factor(user) or _confirmed_totp(user) is not None:
        return redirect(_second_factor_url(next_url))
    return _enrolment(request, next_url, replacing=False)


@login_required
@require_http_methods(["GET", "POST"])
def second_factor_replace(request: HttpRequest) -> HttpResponse:
    """A verified official registers a new phone (after logging in with a recovery code
    because the old one was lost): the old authenticator and recovery codes stop working."""
    user = request.user
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if not policy.needs_second_factor(user):
        return HttpResponseRedirect(next_url)
    if not user.is_verified():  # only someone who passed the second factor may change it
        return redirect(_second_factor_url(next_url))
    return _enrolment(request, next_url, replacing=True)


def _enrolment(request: HttpRequest, next_url: str, *, replacing: bool) -> HttpResponse:
    user = request.user
    device = factors.pending_device(user)
    error = ""
    if request.method == "POST":
        code = "".join(request.POST.get("code", "").split())
        codes, throttled = factors.confirm_enrolment(user, device, code, replacing=replacing)
        if codes is not None:
            request.session.cycle_key()
            otp_login(request, device)
            if not replacing:
                actions.second_factor_event(user, "enrolled", ip=_ip(request))
            return render(
                request, "identity/recovery_codes.html", {"codes": codes, "next": next_url}
            )
        error = _(THROTTLED) if throttled else _(WRONG_CODE)
    qr = segno.make(device.config_url, error="m")
    return render(
        request,
        "identity/second_factor_enrol.html",
        {
            "next": next_url,
            "error": error,
            "replacing": replacing,
            "after_recovery": request.GET.get("recuperacion") == "1",
            "recovery_left": StaticToken.objects.filter(device__user=user).count(),
            "qr_svg": qr.svg_inline(scale=4, title=_("Código QR para su aplicación")),
            "secret": base32_secret(device),
        },
        status=422 if error else 200,
    )


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The language switch: Django's cookie for everyone, saved on the account when signed in.

    An unsupported code changes nothing (the page stays in the current language).
    """
    response = i18n_views.set_language(request)
    code = request.POST.get("language", "")
    if request.user.is_authenticated:
        actions.set_language(request.user, code)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    """The signed-in person's contact for notices: mobile phone and SMS alerts."""
    user = request.user
    errors: dict[str, str] = {}
    phone = user.phone
    if request.method == "POST":
        phone = request.POST.get("phone", "").strip()[:20]
        try:
            actions.set_phone(user, phone, sms_notices=bool(request.POST.get("sms_notices")))
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            messages.success(request, _("Guardamos sus datos de contacto."))
            return redirect("identity:account")
    return render(
        request,
        "identity/account.html",
        {
            "errors": errors,
            "phone": phone,
            "account": user,
            "second_factor": policy.needs_second_factor(user),
        },
        status=422 if errors else 200,
    )


@require_http_methods(["GET", "POST"])
def keep_alive(request: HttpRequest) -> HttpResponse:
    """ "Seguir conectado": restart an official's idle clock with one action (WCAG 2.2.1).

    The notice on every official page posts here with ``?next=`` the page it was on, and is
    sent back there; the warning dialog's script posts with ``Accept: application/json`` and
    gets the new remaining time. A GET (e.g. the login's ``next`` after the session had
    already ended) changes nothing and goes on to ``next``.
    """
    from .middleware import touch

    next_url = _safe_next(request, request.GET.get("next"))
    wants_json = "application/json" in request.headers.get("Accept", "")
    if request.method == "POST" and request.user.is_authenticated:
        ends = touch(request)
        if wants_json:
            remaining = int(ends - clock.now().timestamp())
            at = dt.datetime.fromtimestamp(ends, tz=clock.LIMA)
            return JsonResponse(
                {
                    "remaining_seconds": remaining,
                    "ends_at": at.isoformat(),
                    "ends_display": at.strftime("%H:%M"),
                }
            )
        if policy.needs_second_factor(request.user):
            messages.success(request, _("Su sesión sigue activa."))
        return redirect(next_url)
    if request.method == "POST":
        if wants_json:
            return JsonResponse(
                {
                    "error": {
                        "code": "not_authenticated",
                        "message": _("Su sesión terminó."),
                        "field": None,
                        "fields": {},
                    }
                },
                status=401,
            )
        return redirect(f"{reverse('identity:login')}?{urlencode({'next': next_url})}")
    return redirect(next_url)
