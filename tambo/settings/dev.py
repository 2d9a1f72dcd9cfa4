"""Development profile: the embedded SQLite database, debug pages, console e-mail."""

from .base import *  # noqa: F403
from .base import env_bool

DEBUG = env_bool("TAMBO_DEBUG", True)
SECRET_KEY = SECRET_KEY or "dev-only-not-secret-tambo"  # noqa: F405
