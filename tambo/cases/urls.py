from django.urls import path

from . import assisted_views, desk_views, views

app_name = "cases"
urlpatterns = [
    path("tramites/<str:agency>/<str:code>/empezar/", views.start, name="start"),
    path("borradores/<uuid:draft_id>/", views.draft_form, name="draft"),
    path("borradores/<uuid:draft_id>/revisar/", views.review, name="review"),
    path("borradores/<uuid:draft_id>/eliminar/", views.discard, name="discard"),
    path("mis-expedientes/", views.my_filings, name="my_filings"),
    path("expedientes/<str:number>/", views.filing_detail, name="filing"),
    path("expedientes/<str:number>/cargo/", views.receipt, name="receipt"),
    path("expedientes/<str:number>/cargo.pdf", views.receipt_download, name="receipt_pdf"),
    path("expedientes/<str:number>/accion/<str:transition_id>/", views.citizen_act, name="act"),
    path(
        "expedientes/<str:number>/subir-en-lugar/<str:requirement>/",
        views.upload_instead,
        name="upload_instead",
    ),
    path(
        "expedientes/<str:number>/documentos/<str:code>.pdf",
        views.issued_document,
        name="issued_document",
    ),
    path("consulta/", views.status_lookup, name="status_lookup"),
    path("asistido/", assisted_views.home, name="assisted_home"),
    path("asistido/consentimiento/<uuid:consent_id>/", assisted_views.code, name="assisted_code"),
    path(
        "asistido/consentimiento/<uuid:consent_id>/borrador/",
        assisted_views.open_draft,
        name="assisted_draft",
    ),
    # Before "asistido/<agency>/<code>/", which would also match these.
    path("asistido/cuentas/nueva/", desk_views.new_account, name="desk_account_new"),
    path("asistido/cuentas/<uuid:enrolment_id>/", desk_views.account_done, name="desk_account"),
    path(
        "asistido/cuentas/<uuid:enrolment_id>/codigo/",
        desk_views.account_code,
        name="desk_account_code",
    ),
    path(
        "asistido/cuentas/<uuid:enrolment_id>/reenviar/",
        desk_views.resend_activation,
        name="desk_account_resend",
    ),
    path("cuenta/activar/<str:token>/", desk_views.activate, name="activate"),
    path("asistido/<str:agency>/<str:code>/", assisted_views.start, name="assisted_start"),
]
