"""Why an exchange was refused: one stable code per reason, and whether to retry."""

from __future__ import annotations


class ExchangeError(Exception):
    """A refused or failed exchange. ``retry`` says whether trying again later may help."""

    status = 400

    def __init__(self, code: str, message: str, *, status: int = 400, retry: bool = False):
        super().__init__(message)
        self.code, self.message, self.status, self.retry = code, message, status, retry


def refused(code: str, message: str, status: int = 401) -> ExchangeError:
    return ExchangeError(code, message, status=status)


def unavailable(code: str, message: str) -> ExchangeError:
    return ExchangeError(code, message, status=503, retry=True)
