from django.urls import path

from . import views

app_name = "exchange"
urlpatterns = [
    path("registry", views.registry_view, name="registry"),
    path("services/<str:code>/<str:version>/openapi.json", views.openapi_view, name="openapi"),
    path("services/<str:code>/<str:version>", views.service_view, name="service"),
]
