from django.urls import path

from tambo.core.ratelimit import rate_limit

from . import delegation_views, staff_views, views

app_name = "identity"
urlpatterns = [
    path("ingresar/", rate_limit("login")(views.LoginView.as_view()), name="login"),
    path("ingresar/idgob/", views.oidc_start, name="oidc_start"),
    path("ingresar/idgob/retorno/", views.oidc_callback, name="oidc_callback"),
    path("ingresar/segundo-factor/", views.second_factor, name="second_factor"),
    path(
        "ingresar/segundo-factor/registrar/",
        views.second_factor_enrol,
        name="second_factor_enrol",
    ),
    path(
        "ingresar/segundo-factor/reemplazar/",
        views.second_factor_replace,
        name="second_factor_replace",
    ),
    path("salir/", views.LogoutView.as_view(), name="logout"),
    path("cuenta/", views.account, name="account"),
    path("oficina/delegaciones/", delegation_views.delegation_list, name="delegations"),
    path("oficina/personal/", staff_views.staff, name="staff"),
    path(
        "oficina/personal/<int:user_id>/segundo-factor/restablecer/",
        staff_views.reset,
        name="staff_reset",
    ),
    path(
        "oficina/delegaciones/<int:delegation_id>/revocar/",
        delegation_views.delegation_revoke,
        name="delegation_revoke",
    ),
    path("sesion/seguir/", views.keep_alive, name="keep_alive"),
]
