"""Gunicorn settings for Tambo's web nodes (``gunicorn -c deploy/gunicorn.conf.py tambo.wsgi``).

Everything an operator tunes comes from the environment (the systemd unit reads
/etc/tambo/tambo.env). Sync workers, because every request is short and bounded (statement
timeout, connect timeout, upload limits) and a sync worker cannot be starved by one slow
request of another; ``TAMBO_WEB_THREADS`` > 1 switches to threaded workers for more
concurrency per megabyte. The web node keeps no state: add nodes behind the proxy to grow.
"""

import multiprocessing
import os

bind = os.environ.get("TAMBO_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("TAMBO_WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("TAMBO_WEB_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
# A request that runs longer than this is killed and its worker replaced; it must exceed the
# database statement timeout (15 s by default) so the database error, not the kill, answers.
timeout = int(os.environ.get("TAMBO_WEB_TIMEOUT", "30"))
# On SIGTERM/SIGHUP workers finish the requests they hold for up to this long.
graceful_timeout = int(os.environ.get("TAMBO_WEB_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# Recycle workers now and then so a slow leak never grows without bound.
max_requests = int(os.environ.get("TAMBO_WEB_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10
# Uploads are read by Django (limits in settings); the reverse proxy limits the body size too.
limit_request_line = 8190
# The reverse proxy on the same machine sets X-Forwarded-For / -Proto.
forwarded_allow_ips = os.environ.get("TAMBO_FORWARDED_ALLOW_IPS", "127.0.0.1")
proxy_allow_ips = forwarded_allow_ips
# The application writes one access line per request (JSON, with the request id); gunicorn's
# own access log would repeat it without the id.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("TAMBO_LOG_LEVEL", "info").lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "tambo.core.logs.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": loglevel.upper(), "propagate": False}
    },
}
if os.environ.get("TAMBO_LOG_FORMAT", "json") != "json":
    logconfig_dict = {}
# Load the application in each worker (not in the master), so `systemctl reload` (HUP)
# starts new workers with new code while the old ones finish their requests.
preload_app = False
wsgi_app = "tambo.wsgi:application"
