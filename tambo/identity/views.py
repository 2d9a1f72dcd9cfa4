"""Local-account login and logout, the language switch and the account page (contact for notices)."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import i18n as i18n_views
from django.views.decorators.http import require_http_methods, require_POST

from tambo.core.errors import ValidationFailed

from . import actions


class LoginView(auth_views.LoginView):
    template_name = "identity/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    next_page = "catalog:home"


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
        {"errors": errors, "phone": phone, "account": user},
        status=422 if errors else 200,
    )
