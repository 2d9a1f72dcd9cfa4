"""Writes on accounts: the person's own settings (language, mobile phone), failed logins and
the lock, ending sessions, disabling, sign-up through the identity provider.

Each one runs in a transaction and appends an audit entry, like the case actions. The login
lock is kept per normalised account name in the database (``LoginThrottle``), so every
process sees it and an unknown name is locked exactly like a real account.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from tambo.core import audit, clock

from .language import is_supported, normalize
from .models import LoginThrottle, User
from .phones import normalize_mobile


def set_language(user: Any, code: str) -> bool:
    """Save the user's language; an unsupported code changes nothing (returns False)."""
    if not is_supported(code):
        return False
    language = normalize(code)
    if user.language == language:
        return True
    with transaction.atomic():
        previous = user.language
        user.language = language
        user.save(update_fields=["language"])
        audit.record(
            "user.language_set",
            "user",
            str(user.pk),
            actor=user,
            data={"from": previous, "to": language},
        )
    return True


def set_phone(user: Any, phone: str, *, sms_notices: bool | None = None) -> None:
    """Save the user's mobile number (Peruvian, +51 9XXXXXXXX) and whether notices go by SMS.

    Raises ValidationFailed for a number that is not a Peruvian mobile; nothing is saved then.
    """
    number = normalize_mobile(phone) if phone.strip() else ""
    with transaction.atomic():
        user.phone = number
        if sms_notices is not None:
            user.sms_notices = sms_notices and bool(number)
        user.save(update_fields=["phone", "sms_notices"])
        audit.record(
            "user.phone_set",
            "user",
            str(user.pk),
            actor=user,
            data={"set": bool(number), "sms_notices": user.sms_notices},
        )


def throttle_key(username: str) -> str:
    """The name a lock is kept under: what was typed, trimmed and case-folded (control
    characters dropped: PostgreSQL refuses NUL in text)."""
    printable = "".join(c for c in (username or "") if c.isprintable())
    return printable.strip().casefold()[:150]


def _window() -> dt.timedelta:
    return dt.timedelta(seconds=settings.TAMBO_LOGIN_LOCKOUT_SECONDS)


def locked_until(username: str) -> dt.datetime | None:
    """When the lock on this account name ends, or None if it may try now."""
    row = LoginThrottle.objects.filter(key=throttle_key(username)).first()
    if row and row.locked_until and row.locked_until > clock.now():
        return row.locked_until
    return None


def _throttle_row(key: str) -> LoginThrottle:
    """The locked throttle row for ``key`` (created on first failure)."""
    try:
        with transaction.atomic():
            LoginThrottle.objects.get_or_create(key=key)
    except IntegrityError:  # another process created it at the same moment
        pass
    return LoginThrottle.objects.select_for_update().get(key=key)


@transaction.atomic
def login_failed(username: str, *, ip: str = "") -> bool:
    """Count a failed password login; returns True when this failure locks the account name.

    Failures older than the window are forgotten; the ``TAMBO_LOGIN_MAX_FAILURES``-th
    failure inside it locks the name for ``TAMBO_LOGIN_LOCKOUT_SECONDS``.
    """
    key = throttle_key(username)
    now = clock.now()
    row = _throttle_row(key)
    if row.first_failure_at is None or now - row.first_failure_at > _window():
        row.failures, row.first_failure_at = 0, now
    row.failures += 1
    locks = row.failures >= settings.TAMBO_LOGIN_MAX_FAILURES
    if locks:
        row.locked_until = now + _window()
        row.failures, row.first_failure_at = 0, None
    row.save()
    user = User.objects.filter(username__iexact=key).first()
    audit.record(
        "login.locked" if locks else "login.failed",
        "account",
        key[:64],
        actor=user,
        data={"ip": ip, **({"until": row.locked_until.isoformat()} if locks else {})},
    )
    return locks


@transaction.atomic
def login_refused_while_locked(username: str, *, ip: str = "") -> None:
    """Record an attempt made during the lock (the password was not even checked)."""
    key = throttle_key(username)
    audit.record("login.refused_locked", "account", key[:64], data={"ip": ip})


@transaction.atomic
def login_succeeded(user: User, *, method: str, ip: str = "") -> None:
    """Clear the failure count of the account name and record the login."""
    LoginThrottle.objects.filter(key=throttle_key(user.username)).delete()
    audit.record("login.succeeded", "user", user.pk, actor=user, data={"method": method, "ip": ip})


@transaction.atomic
def end_all_sessions(user: User, *, reason: str, actor: Any = None) -> None:
    """End every session of ``user`` on every device (logout, disabling, a lost device)."""
    User.objects.filter(pk=user.pk).update(session_generation=F("session_generation") + 1)
    user.refresh_from_db(fields=["session_generation"])
    audit.record("sessions.ended", "user", user.pk, actor=actor or user, data={"reason": reason})


@transaction.atomic
def session_expired(user: User) -> None:
    """Record that an official's session ended after the idle timeout."""
    audit.record("sessions.idle_timeout", "user", user.pk, actor=user)


@transaction.atomic
def disable_account(actor: Any, user: User) -> None:
    """Disable an account: it can no longer log in and all its sessions end now."""
    User.objects.filter(pk=user.pk).update(
        is_active=False, session_generation=F("session_generation") + 1
    )
    user.refresh_from_db(fields=["is_active", "session_generation"])
    audit.record("account.disabled", "user", user.pk, actor=actor)


@dataclass(frozen=True)
class VerifiedIdentity:
    """What a validated ID token says about the person."""

    issuer: str
    subject: str
    document_type: str
    document_number: str
    first_name: str
    last_name: str
    email: str


@transaction.atomic
def sign_in_with_identity(identity: VerifiedIdentity, *, ip: str = "") -> User:
    """The account of the person the identity provider vouched for, created on first login.

    Found by identity document (type and number), never by e-mail: an e-mail address
    proves nothing about who holds it.
    """
    user = (
        User.objects.select_for_update()
        .filter(document_type=identity.document_type, document_number=identity.document_number)
        .first()
    )
    created = user is None
    if created:
        user = User(
            username=f"{identity.document_type}-{identity.document_number}",
            document_type=identity.document_type,
            document_number=identity.document_number,
            first_name=identity.first_name[:150],
            last_name=identity.last_name[:150],
            email=identity.email[:254],
        )
        user.set_unusable_password()
        user.save()
    if not user.is_active:
        audit.record(
            "login.oidc_refused",
            "user",
            user.pk,
            actor=user,
            data={"reason": "account_disabled", "ip": ip},
        )
        return user
    audit.record(
        "account.created_by_oidc" if created else "login.succeeded",
        "user",
        user.pk,
        actor=user,
        data={"method": "oidc", "issuer": identity.issuer, "ip": ip},
    )
    return user


@transaction.atomic
def oidc_refused(reason: str, *, ip: str = "") -> None:
    """Record a refused OpenID Connect login (nothing else is written)."""
    audit.record("login.oidc_refused", "login", "oidc", data={"reason": reason, "ip": ip})


@transaction.atomic
def second_factor_event(user: User, event: str, *, ip: str = "") -> None:
    """Record a second-factor event: enrolled, verified, failed, recovery code used."""
    audit.record(f"otp.{event}", "user", user.pk, actor=user, data={"ip": ip})
