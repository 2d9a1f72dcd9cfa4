"""URLs of the public verification pages (``/verificar/``)."""

from django.urls import path

from . import views

app_name = "documents"
urlpatterns = [
    path("verificar/", views.verify_form, name="verify"),
    path("verificar/<str:code>/", views.document, name="document"),
]
