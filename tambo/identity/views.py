"""Local-account login and logout (the national identity provider comes with the trust work)."""

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.views import i18n as i18n_views
from django.views.decorators.http import require_POST

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
