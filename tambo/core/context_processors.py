"""Template context every page needs: the deploying site's name and banner."""

from django.conf import settings


def site(request):
    return {
        "site_name": settings.TAMBO_SITE_NAME,
        "official_banner": settings.TAMBO_OFFICIAL_BANNER,
        # Each language in its own name, never translated ("English", not "Inglés").
        "site_languages": settings.LANGUAGES,
    }
