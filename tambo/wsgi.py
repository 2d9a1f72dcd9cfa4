"""WSGI entry point for gunicorn: ``gunicorn tambo.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tambo.settings.dev")
application = get_wsgi_application()
