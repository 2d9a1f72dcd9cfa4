from django.urls import path

from . import office_views as views

app_name = "office"
urlpatterns = [
    path("", views.home, name="home"),
    path("bandeja/<int:unit_id>/<str:role>/", views.queue, name="queue"),
    path("expedientes/<str:number>/", views.case, name="case"),
    path("expedientes/<str:number>/accion/<str:transition_id>/", views.act, name="act"),
    path("expedientes/<str:number>/tomar/", views.take, name="take"),
    path("expedientes/<str:number>/asignar/", views.assign, name="assign"),
    path("expedientes/<str:number>/reserva/", views.reserve, name="reserve"),
    path(
        "expedientes/<str:number>/archivos/<uuid:document_id>/",
        views.upload_download,
        name="upload",
    ),
]
