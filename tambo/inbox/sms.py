"""Text messages through a pluggable sender (``TAMBO_SMS_BACKEND``, a dotted path).

A sender has one method, ``send(to, text)``, and raises :class:`SmsError` saying whether
trying again later may work (a gateway time-out) or not (a number the gateway refuses).
Development and tests use :class:`ConsoleSender` or :class:`FileSender`; production plugs in
its SMS gateway's client the same way. An SMS never carries personal data: callers send
only a filing number, a link or a one-time code (see ``inbox.actions.sms_text``).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from tambo.core import clock

log = logging.getLogger(__name__)
MAX_LENGTH = 320  # two concatenated GSM segments at most


class SmsError(Exception):
    """The SMS was not sent; ``retry`` says whether sending it again later may succeed."""

    def __init__(self, message: str, *, retry: bool):
        super().__init__(message)
        self.retry = retry


class SmsSender(Protocol):
    def send(self, to: str, text: str) -> None: ...


class ConsoleSender:
    """Prints each SMS on standard output (development)."""

    def send(self, to: str, text: str) -> None:
        sys.stdout.write(f"SMS to {to}: {text}\n")
        sys.stdout.flush()


class FileSender:
    """Appends each SMS as one JSON line to ``TAMBO_SMS_FILE`` (development and tests)."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path or settings.TAMBO_SMS_FILE)

    def send(self, to: str, text: str) -> None:
        line = json.dumps({"to": to, "text": text, "at": clock.now().isoformat()})
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        except OSError as exc:
            raise SmsError(f"cannot write {self.path}: {exc}", retry=True) from exc

    def sent(self) -> list[dict[str, str]]:
        """Every SMS written so far (for tests and the demo)."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]


def sender() -> SmsSender:
    return import_string(settings.TAMBO_SMS_BACKEND)()


def send_sms(to: str, text: str) -> None:
    """Send one SMS through the configured sender; raises :class:`SmsError`."""
    if not to.startswith("+51"):
        raise SmsError(f"not a Peruvian mobile number: {to!r}", retry=False)
    if len(text) > MAX_LENGTH:
        raise SmsError(f"SMS of {len(text)} characters; at most {MAX_LENGTH}", retry=False)
    sender().send(to, text)
