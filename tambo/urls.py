from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from tambo.api import api
from tambo.core import health
from tambo.identity.views import set_language

handler500 = "tambo.core.health.server_error"

urlpatterns = [
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("i18n/setlang/", set_language, name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("oficina/", include("tambo.cases.office_urls")),
    path("casilla/", include("tambo.inbox.urls")),
    path("x/v1/", include("tambo.exchange.urls")),
    path("cuenta/", include("tambo.privacy.urls")),
    path("", include("tambo.identity.urls")),
    path("", include("tambo.cases.urls")),
    path("", include("tambo.catalog.urls")),
    path("", include("tambo.documents.urls")),
]

if settings.TAMBO_BENCH_ENDPOINTS:
    from tambo.core.bench import urlpatterns as bench_urls

    urlpatterns += bench_urls
