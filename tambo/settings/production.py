"""Production profile: PostgreSQL, secrets from the environment, HTTPS-only cookies.

Refuses to start when a secret or the database URL is missing, rather than falling
back to a development default.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env_bool, env_int

DEBUG = False
if not SECRET_KEY:  # noqa: F405
    raise ImproperlyConfigured("TAMBO_SECRET_KEY must be set in production")
if "DATABASE_URL" not in os.environ:
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL in production")
if os.environ.get("TAMBO_SIGNING_PASSWORD", "tambo-demo-keys") == "tambo-demo-keys":
    raise ImproperlyConfigured(
        "TAMBO_SIGNING_PASSWORD must be set in production (it opens the agencies' signing "
        "keys), and not to the published demo password"
    )
if "TAMBO_CHECKPOINT_KEY" not in os.environ or not TAMBO_CHECKPOINT_KEY.is_file():  # noqa: F405
    raise ImproperlyConfigured(
        "TAMBO_CHECKPOINT_KEY must name the Ed25519 key file that signs audit checkpoints "
        "(create one with `tambo audit keygen`)"
    )

# JSON lines with the request id unless TAMBO_LOG_FORMAT=text.
LOGGING = logging_config(  # noqa: F405
    os.environ.get("TAMBO_LOG_FORMAT", "json"), os.environ.get("TAMBO_LOG_LEVEL", "INFO")
)
SESSION_COOKIE_SECURE = env_bool("TAMBO_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# HTTPS only: plain-HTTP requests are redirected (the proxy says which were HTTPS through
# X-Forwarded-Proto, below). TAMBO_SSL_REDIRECT=0 only where a proxy already redirects.
SECURE_SSL_REDIRECT = env_bool("TAMBO_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("TAMBO_HSTS_SECONDS", 31536000)
# HSTS covers the site's own subdomains (Tambo runs on a host of its own, e.g.
# tramites.<agencia>.gob.pe; its parent domain is not affected).
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("TAMBO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("TAMBO_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    # Silenced on purpose: browsers' preload list takes registrable domains, and Tambo runs on
    # an agency's subdomain; preloading is the agency's decision for its whole domain
    # (TAMBO_HSTS_PRELOAD=1 turns it on, and the check with it).
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
PASSWORD_HASHERS = [
    "tambo.identity.hashers.TamboArgon2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
