from django.urls import path

from . import views

app_name = "privacy"
urlpatterns = [
    path("accesos/", views.accesses, name="accesses"),
    path("datos/", views.my_data, name="my_data"),
    path("datos/descargar/", views.download, name="download"),
]
