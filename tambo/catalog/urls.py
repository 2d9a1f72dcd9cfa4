from django.urls import path

from . import views

app_name = "catalog"
urlpatterns = [
    path("", views.home, name="home"),
    path("tramites/", views.search, name="search"),
    path("entidades/<str:code>/", views.agency_detail, name="agency"),
    path("tramites/<str:agency>/<str:code>/", views.procedure_detail, name="procedure"),
]
