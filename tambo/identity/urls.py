from django.urls import path

from tambo.core.ratelimit import rate_limit

from . import views

app_name = "identity"
urlpatterns = [
    path("ingresar/", rate_limit("login")(views.LoginView.as_view()), name="login"),
    path("salir/", views.LogoutView.as_view(), name="logout"),
    path("cuenta/", views.account, name="account"),
]
