from django.urls import path

from . import views

app_name = "identity"
urlpatterns = [
    path("ingresar/", views.LoginView.as_view(), name="login"),
    path("salir/", views.LogoutView.as_view(), name="logout"),
    path("cuenta/", views.account, name="account"),
]
