"""Test profile: fast hashing, in-memory e-mail, temporary media; DATABASE_URL picks the database."""

import tempfile
from pathlib import Path

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-only-not-secret-tambo"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
TAMBO_SMS_BACKEND = "tambo.inbox.sms.FileSender"
TAMBO_SMS_FILE = Path(tempfile.mkdtemp(prefix="tambo-test-sms-")) / "sms.jsonl"
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="tambo-test-media-"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["NAME"] = ":memory:"  # noqa: F405
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE"}  # noqa: F405
# Serve static files from the apps directly (no collectstatic in tests).
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Signing keys for tests: a session-wide demo PKI created by tests/conftest.py.
TAMBO_SIGNING_KEYS = Path(tempfile.mkdtemp(prefix="tambo-test-keys-"))
TAMBO_CHECKPOINT_KEY = TAMBO_SIGNING_KEYS / "audit-checkpoint.pem"
# Tests change the registry files and expect the change at once.
TAMBO_EXCHANGE_REGISTRY_CHECK_SECONDS = 0
# The exchange registry's agencies file: `tambo demo` in a test writes it here, never in var/.
TAMBO_EXCHANGE_AGENCIES = Path(tempfile.mkdtemp(prefix="tambo-test-exchange-")) / "agencies.yaml"
# Seal after every commit, so tests see the chain at once.
TAMBO_AUDIT_SEAL_INTERVAL = 0
# Rate limits stay on in tests, high enough that no test meets them by accident;
# tests/test_ratelimit.py sets low ones. tests/conftest.py clears the cache between tests.
TAMBO_RATE_LIMITS = {
    "login": "1000/60",
    "filing": "1000/60",
    "status": "1000/60",
    "verify": "1000/60",
    "consent_code": "1000/60",
    "consent_code_contact": "1000/60",
    "desk_account": "1000/60",
}
