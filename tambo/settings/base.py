"""Settings shared by every profile, read from the environment with safe defaults.

Profiles: ``tambo.settings.dev`` (default for ``make run``), ``tambo.settings.test``
and ``tambo.settings.production`` (refuses to start without the secrets it needs).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

from tambo.core.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = BASE_DIR.parent
VAR_DIR = Path(os.environ.get("TAMBO_VAR_DIR", PROJECT_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


SECRET_KEY = os.environ.get("TAMBO_SECRET_KEY", "")
DEBUG = env_bool("TAMBO_DEBUG", False)
ALLOWED_HOSTS = env_list("TAMBO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("TAMBO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "tambo.core",
    "tambo.identity",
    "tambo.catalog",
    "tambo.cases",
    "tambo.documents",
    "tambo.inbox",
    "tambo.exchange",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "tambo.privacy",
    "django_tasks",
    "django_tasks_db",
    "tambo.demo",
    # Serves the API docs' Swagger UI from our own static files (the strict CSP blocks a CDN).
    "ninja",
    "csp",
]

MIDDLEWARE = [
    # Outermost: request id and access log for everything, 503 for a database outage.
    "tambo.core.middleware.RequestContextMiddleware",
    # Before anything reads request.POST/FILES: multipart bodies are parsed so that a file whose
    # name tries path traversal is refused on its field, not trimmed to its base name.
    "tambo.core.upload_names.UploadNameMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "tambo.core.middleware.SecurityHeadersMiddleware",
    "csp.middleware.CSPMiddleware",
    # Compresses dynamic HTML and JSON (static files come precompressed from WhiteNoise, whose
    # Content-Encoding makes this skip them; PDFs and ZIPs are left as they are). Django's
    # gzip pads each response with 0-99 random bytes against BREACH; see docs/security.md.
    "tambo.core.compression.TextCompressionMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tambo.identity.middleware.UserLanguageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "tambo.identity.middleware.OfficialSessionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tambo.urls"
WSGI_APPLICATION = "tambo.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tambo.core.context_processors.site",
                "tambo.identity.context_processors.roles",
                "tambo.identity.context_processors.session_timeout",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'tambo.sqlite3'}"),
        conn_max_age=env_int("TAMBO_DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Bounded waits: a request never hangs on a database that is down or stuck; it fails fast
    # and answers 503 (tambo.core.health), and CONN_HEALTH_CHECKS replaces the broken
    # persistent connection once the database is back. Long maintenance (migrations on big
    # tables) may raise TAMBO_DB_STATEMENT_TIMEOUT_MS (0 = no limit) for that one command.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        connect_timeout=env_int("TAMBO_DB_CONNECT_TIMEOUT", 3),
        # UTC in the start-up packet (what Django sets with USE_TZ anyway): no SET TIME ZONE
        # round trip on each new connection before tambo.core.dbwait bounds its waits.
        options=(
            f"-c statement_timeout={env_int('TAMBO_DB_STATEMENT_TIMEOUT_MS', 15000)} "
            "-c TimeZone=UTC"
        ),
        # Notice a peer that vanished (server killed, network cut) instead of waiting forever.
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=5,
        keepalives_count=3,
        tcp_user_timeout=env_int("TAMBO_DB_TCP_USER_TIMEOUT_MS", 10000),
        server_side_binding=env_bool("TAMBO_DB_SERVER_SIDE_BINDING", False),
    )
# The hot-path statements of tambo.core.sql.bound_cursor are prepared after running this many
# times on a connection (PostgreSQL then skips parsing and planning them). 0 never prepares:
# for a pooler in transaction mode without prepared-statement support (PgBouncer < 1.21, or
# without max_prepared_statements; docs/scaling.md).
TAMBO_DB_PREPARE_THRESHOLD = env_int("TAMBO_DB_PREPARE_THRESHOLD", 5)
# A server that stops answering on an open connection (frozen, or a network that swallows
# packets while acknowledging them) is given up on after this long: the connection is closed
# and the request answers 503 (tambo.core.dbwait). By default the statement timeout plus 2 s,
# so a slow statement is still ended by the server first; 0 = no bound (and no statement
# timeout means no bound either, for long maintenance commands).
_STATEMENT_TIMEOUT_MS = env_int("TAMBO_DB_STATEMENT_TIMEOUT_MS", 15000)
TAMBO_DB_ANSWER_TIMEOUT_MS = env_int(
    "TAMBO_DB_ANSWER_TIMEOUT_MS", _STATEMENT_TIMEOUT_MS + 2000 if _STATEMENT_TIMEOUT_MS else 0
)
if os.environ.get("DATABASE_REPLICA_URL"):
    # A streaming replica for lag-tolerant reads (back-office queues): see docs/scaling.md.
    DATABASES["replica"] = {
        **dj_database_url.parse(
            os.environ["DATABASE_REPLICA_URL"],
            conn_max_age=env_int("TAMBO_DB_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        ),
        "OPTIONS": dict(DATABASES["default"].get("OPTIONS", {})),
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = ["tambo.core.replica.PrimaryReplicaRouter"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers proceed while a filing is written; IMMEDIATE avoids
    # "database is locked" upgrades from read to write inside a transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "identity.User"
LOGIN_URL = "identity:login"
LOGIN_REDIRECT_URL = "cases:my_filings"

# Argon2id first: new and re-hashed passwords use it; the others only read older hashes.
PASSWORD_HASHERS = [
    "tambo.identity.hashers.TamboArgon2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# Argon2id cost (OWASP minimum by default: 19 MiB, 2 passes, 1 lane): see identity/hashers.py.
TAMBO_ARGON2_MEMORY_KIB = env_int("TAMBO_ARGON2_MEMORY_KIB", 19 * 1024)
TAMBO_ARGON2_TIME_COST = env_int("TAMBO_ARGON2_TIME_COST", 2)
TAMBO_ARGON2_PARALLELISM = env_int("TAMBO_ARGON2_PARALLELISM", 1)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login protection (docs/identity.md): this many failed passwords for one account name within
# TAMBO_LOGIN_LOCKOUT_SECONDS lock it for TAMBO_LOGIN_LOCKOUT_SECONDS.
TAMBO_LOGIN_MAX_FAILURES = env_int("TAMBO_LOGIN_MAX_FAILURES", 5)
TAMBO_LOGIN_LOCKOUT_SECONDS = env_int("TAMBO_LOGIN_LOCKOUT_SECONDS", 600)
# Officials' sessions end after this many idle seconds (citizens' follow SESSION_COOKIE_AGE).
TAMBO_OFFICIAL_IDLE_SECONDS = env_int("TAMBO_OFFICIAL_IDLE_SECONDS", 30 * 60)
# How long before that end the warning dialog appears (WCAG 2.2.1 asks for at least 20 s).
TAMBO_SESSION_WARNING_SECONDS = env_int("TAMBO_SESSION_WARNING_SECONDS", 2 * 60)
# Second factor (officials): the issuer name shown in authenticator apps.
OTP_TOTP_ISSUER = os.environ.get("TAMBO_TOTP_ISSUER", "Tambo")
TAMBO_RECOVERY_CODES = 10
# The national identity provider (OpenID Connect, e.g. ID Gob.pe). Without an issuer and a
# client id only local accounts are offered.
TAMBO_OIDC_ISSUER = os.environ.get("TAMBO_OIDC_ISSUER", "")
TAMBO_OIDC_CLIENT_ID = os.environ.get("TAMBO_OIDC_CLIENT_ID", "")
TAMBO_OIDC_CLIENT_SECRET = os.environ.get("TAMBO_OIDC_CLIENT_SECRET", "")
TAMBO_OIDC_SCOPES = os.environ.get("TAMBO_OIDC_SCOPES", "openid profile")
TAMBO_OIDC_DOCUMENT_CLAIM = os.environ.get("TAMBO_OIDC_DOCUMENT_CLAIM", "dni")
TAMBO_OIDC_DOCUMENT_TYPE = os.environ.get("TAMBO_OIDC_DOCUMENT_TYPE", "dni")
TAMBO_OIDC_GIVEN_NAME_CLAIM = os.environ.get("TAMBO_OIDC_GIVEN_NAME_CLAIM", "given_name")
TAMBO_OIDC_FAMILY_NAME_CLAIM = os.environ.get("TAMBO_OIDC_FAMILY_NAME_CLAIM", "family_name")
TAMBO_OIDC_LEEWAY_SECONDS = env_int("TAMBO_OIDC_LEEWAY_SECONDS", 60)

LANGUAGE_CODE = "es"
LANGUAGES = [("es", "Español"), ("qu", "Runasimi"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "America/Lima"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = Path(os.environ.get("TAMBO_MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# A refused CSRF check answers with our own 403 page (never Django's debug page).
CSRF_FAILURE_VIEW = "tambo.core.views.csrf_failure"

# Content-Security-Policy (django-csp): no inline script or style anywhere, nothing from other
# origins. Forms may post to this site only, plus TAMBO_CSP_FORM_ACTION (for example the
# national identity provider's login origin once OIDC is on). See docs/security.md.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF, *env_list("TAMBO_CSP_FORM_ACTION", [])],
    }
}
# Powerful browser features no page of Tambo uses (the Permissions-Policy header).
TAMBO_PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
    "interest-cohort=(), browsing-topics=()"
)

# The cache (rate-limit counters). locmem is per process: enough for the embedded
# single-process setup; several processes must share one, e.g. TAMBO_CACHE_URL=redis://host:6379/0
# (Django's built-in RedisCache; install redis-py then).
_CACHE_URL = os.environ.get("TAMBO_CACHE_URL", "")
if _CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _CACHE_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
TAMBO_RATE_LIMIT_CACHE = "default"
# "count/seconds" per scope; each can be set from the environment, e.g.
# TAMBO_RATE_LIMIT_LOGIN=5/60. Login, status and verification count per client IP; filing per
# signed-in user.
TAMBO_RATE_LIMITS = {
    scope: os.environ.get(f"TAMBO_RATE_LIMIT_{scope.upper()}", default)
    for scope, default in {
        "login": "20/300",
        "filing": "30/60",
        "status": "30/300",
        "verify": "60/300",
        # One-time codes (assisted-filing consent, desk accounts): per intermediary, and per
        # destination phone or e-mail.
        "consent_code": "20/600",
        "consent_code_contact": "3/600",
        # Accounts created at a service centre, per intermediary.
        "desk_account": "30/3600",
    }.items()
}
# Behind a reverse proxy: the header carrying the client's address (e.g. X-Forwarded-For) and
# how many proxies append to it. Empty: REMOTE_ADDR is the client.
TAMBO_CLIENT_IP_HEADER = os.environ.get("TAMBO_CLIENT_IP_HEADER", "")
TAMBO_TRUSTED_PROXIES = env_int("TAMBO_TRUSTED_PROXIES", 1)

EMAIL_BACKEND = os.environ.get(
    "TAMBO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
# SMS notices and one-time codes: a dotted path to a sender class (docs/inclusion.md).
TAMBO_SMS_BACKEND = os.environ.get("TAMBO_SMS_BACKEND", "tambo.inbox.sms.ConsoleSender")
TAMBO_SMS_FILE = Path(os.environ.get("TAMBO_SMS_FILE", VAR_DIR / "sms.jsonl"))
# A gateway failure marked retryable is tried again by the task worker, waiting
# base * 2^(attempt-1) seconds (at most an hour), up to this many attempts in all.
TAMBO_SMS_MAX_ATTEMPTS = env_int("TAMBO_SMS_MAX_ATTEMPTS", 5)
TAMBO_SMS_RETRY_BASE_SECONDS = env_int("TAMBO_SMS_RETRY_BASE_SECONDS", 30)
DEFAULT_FROM_EMAIL = os.environ.get("TAMBO_FROM_EMAIL", "no-responder@tambo.localhost")

# Uploads: a request body may carry several documents; each file and each
# expediente has its own limit, checked by the uploads module.
TAMBO_MAX_FILE_BYTES = env_int("TAMBO_MAX_FILE_BYTES", 10 * 1024 * 1024)
TAMBO_MAX_FILING_BYTES = env_int("TAMBO_MAX_FILING_BYTES", 30 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = TAMBO_MAX_FILING_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# A PDF's compressed streams together may inflate to at most this much when its content is
# checked for active parts; more is a compression bomb and the file is refused.
TAMBO_MAX_PDF_INFLATED_BYTES = env_int("TAMBO_MAX_PDF_INFLATED_BYTES", 128 * 1024 * 1024)

# The deploying agency's branding (never the State's coat of arms: see docs).
TAMBO_SITE_NAME = os.environ.get("TAMBO_SITE_NAME", "Tambo")
TAMBO_OFFICIAL_BANNER = os.environ.get("TAMBO_OFFICIAL_BANNER", "")
TAMBO_PUBLIC_URL = os.environ.get("TAMBO_PUBLIC_URL", "http://127.0.0.1:8000")
# National non-working days decreed for the public sector (not holidays).
# Where `tambo demo` and `make run` load the catalogue from.
TAMBO_CATALOG_DIR = Path(os.environ.get("TAMBO_CATALOG_DIR", PROJECT_DIR / "catalog"))
TAMBO_NATIONAL_CALENDAR = Path(
    os.environ.get("TAMBO_NATIONAL_CALENDAR", BASE_DIR / "core" / "data" / "non_working_days.yaml")
)
# The UIT (Unidad Impositiva Tributaria) per year, in soles, for fees set as a share of it.
TAMBO_UIT = {2025: "5350.00", 2026: "5500.00"}
# Signed documents: each agency signs with <AGENCY_CODE>.p12 in this directory (ca.pem there is
# the trust root the public verifier accepts). The password has a demo default here; the
# production profile refuses to start without TAMBO_SIGNING_PASSWORD.
TAMBO_SIGNING_KEYS = Path(os.environ.get("TAMBO_SIGNING_KEYS_DIR", VAR_DIR / "keys"))
TAMBO_SIGNING_PASSWORD = os.environ.get("TAMBO_SIGNING_PASSWORD", "tambo-demo-keys")

# Exchange between agencies (tambo/exchange): the services file is reviewed text in the
# repository; the agencies file (nodes and public keys) is distributed to every node.
TAMBO_EXCHANGE_SERVICES = Path(
    os.environ.get("TAMBO_EXCHANGE_SERVICES", PROJECT_DIR / "exchange" / "services.yaml")
)
TAMBO_EXCHANGE_AGENCIES = Path(
    os.environ.get("TAMBO_EXCHANGE_AGENCIES", VAR_DIR / "exchange" / "agencies.yaml")
)
TAMBO_EXCHANGE_TIMEOUT = float(os.environ.get("TAMBO_EXCHANGE_TIMEOUT", "5"))
# How often a process looks whether the registry files changed (seconds).
TAMBO_EXCHANGE_REGISTRY_CHECK_SECONDS = float(
    os.environ.get("TAMBO_EXCHANGE_REGISTRY_CHECK_SECONDS", "1")
)
# Obtained requirements: attempts while the provider does not answer, and the first wait
# (doubled after each attempt).
TAMBO_EXCHANGE_MAX_ATTEMPTS = env_int("TAMBO_EXCHANGE_MAX_ATTEMPTS", 6)
TAMBO_EXCHANGE_RETRY_BASE_SECONDS = env_int("TAMBO_EXCHANGE_RETRY_BASE_SECONDS", 60)
# The sweep queues a pending fetch again when its next attempt is this overdue and no task
# for it is queued or running (a worker killed, the task queue lost).
TAMBO_EXCHANGE_REQUEUE_AFTER_SECONDS = env_int("TAMBO_EXCHANGE_REQUEUE_AFTER_SECONDS", 300)
# Exposes /bench/insert (the one-INSERT ceiling) for benchmark runs only.
TAMBO_BENCH_ENDPOINTS = env_bool("TAMBO_BENCH_ENDPOINTS", False)
# Background tasks (sweeps, document signing) through the Django Tasks API, stored in the
# database and run by `tambo db_worker`.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# A task RUNNING whose worker stopped renewing its lease for this long (the worker was killed)
# is put back to READY by the other workers' lease keepers (tambo.core.tasklease); one that
# loses its worker more than TAMBO_TASK_MAX_RECLAIMS times is marked FAILED.
TAMBO_TASK_LEASE_SECONDS = float(os.environ.get("TAMBO_TASK_LEASE_SECONDS") or 300)
TAMBO_TASK_MAX_RECLAIMS = env_int("TAMBO_TASK_MAX_RECLAIMS", 3)
TAMBO_SWEEP_INTERVAL_MINUTES = env_int("TAMBO_SWEEP_INTERVAL_MINUTES", 60)
# Expedientes the sweep locks and changes per transaction (a crash loses at most one batch's
# work, which the next run redoes; smaller batches hold locks for less time).
TAMBO_SWEEP_BATCH = env_int("TAMBO_SWEEP_BATCH", 5000)
# How many pending audit entries one sealing pass takes.
TAMBO_AUDIT_SEAL_BATCH = env_int("TAMBO_AUDIT_SEAL_BATCH", 500)
# Seconds between after-commit sealing attempts of one process (0: after every commit).
TAMBO_AUDIT_SEAL_INTERVAL = float(os.environ.get("TAMBO_AUDIT_SEAL_INTERVAL", "1.0"))
# Audit checkpoints: the Ed25519 platform key (PEM, PKCS#8) that signs each (tree size, root
# hash, time); `tambo audit keygen` creates it. Production refuses to start without it.
TAMBO_CHECKPOINT_KEY = Path(
    os.environ.get("TAMBO_CHECKPOINT_KEY", TAMBO_SIGNING_KEYS / "audit-checkpoint.pem")
)
# The name of this log in every signed checkpoint (first line of the signed text).
TAMBO_CHECKPOINT_ORIGIN = os.environ.get("TAMBO_CHECKPOINT_ORIGIN", "tambo.gob.pe/audit")
TAMBO_CHECKPOINT_INTERVAL_MINUTES = env_int("TAMBO_CHECKPOINT_INTERVAL_MINUTES", 10)
# `tambo audit verify` on PostgreSQL: from this many sealed entries, check ranges of the log
# in worker processes (0 workers: one per core).
TAMBO_AUDIT_VERIFY_PARALLEL_MIN = env_int("TAMBO_AUDIT_VERIFY_PARALLEL_MIN", 50_000)
TAMBO_AUDIT_VERIFY_WORKERS = env_int("TAMBO_AUDIT_VERIFY_WORKERS", 0)

# Recording who read a citizen's data (GET requests, not in a transaction) commits without
# waiting for the WAL flush on PostgreSQL: ~0.5 ms instead of a disk flush per read. A crash
# of the database server may lose the last fraction of a second of access entries (and their
# queued audit entries) but never leaves one half-written. Set to 0 for synchronous commits.
TAMBO_ACCESS_LOG_ASYNC_COMMIT = env_bool("TAMBO_ACCESS_LOG_ASYNC_COMMIT", True)

# Logs: JSON lines with the request id (production default) or readable text (development).
TAMBO_LOG_FORMAT = os.environ.get("TAMBO_LOG_FORMAT", "text")
LOGGING = logging_config(TAMBO_LOG_FORMAT, os.environ.get("TAMBO_LOG_LEVEL", "INFO"))
