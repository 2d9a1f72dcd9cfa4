"""Writes on officials' second factor: enrol or replace the authenticator, reset another's.

An official who lost their phone logs in with a recovery code and registers the new phone
themselves (``confirm_enrolment`` replaces every other authenticator and the recovery codes).
A supervisor of their unit, or an administrator with the right to delete authenticators,
may instead reset it (``reset_second_factor``): the devices go, every session of the official
ends, and the next login asks them to enrol again. Both are audited and the official is told
by e-mail (or SMS when they have no e-mail), so a change they did not make does not go
unnoticed.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tambo.core import audit
from tambo.core.errors import ValidationFailed

from . import policy
from .actions import end_all_sessions
from .language import in_language_of
from .models import Appointment, User

log = logging.getLogger(__name__)


def issue_recovery_codes(user: Any) -> list[str]:
    """New recovery codes (the old ones stop working); returned once, stored as is by django-otp."""
    StaticDevice.objects.filter(user=user).delete()
    static = StaticDevice.objects.create(user=user, name="Códigos de recuperación", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.TAMBO_RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=static, token=c) for c in codes])
    return codes


def pending_device(user: Any) -> TOTPDevice:
    """The authenticator being registered (unconfirmed), made on first use."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").last()
    return device or TOTPDevice.objects.create(user=user, name="Autenticador", confirmed=False)


def confirm_enrolment(
    user: Any, device: TOTPDevice, code: str, *, replacing: bool = False
) -> tuple[list[str] | None, bool]:
    """Confirm ``device`` if ``code`` is right: it becomes the user's only authenticator and new
    recovery codes are issued, all or nothing. Returns the codes (``None`` if refused) and
    whether django-otp's delay after failures refused to check the code.

    ``replacing``: a verified official registers a new phone; the change is audited as
    ``otp.replaced`` and the official told (the first enrolment is audited by the view)."""
    if not (code.isdigit() and len(code) == 6):
        return None, False
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        allowed, _info = device.verify_is_allowed()
        if not allowed:
            return None, True
        if not device.verify_token(code):
            return None, False
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        replaced = TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()[0]
        codes = issue_recovery_codes(user)
        if replacing:
            audit.record(
                "otp.replaced",
                "user",
                user.pk,
                actor=user,
                data={"devices_removed": replaced},
            )
            user_id = user.pk
            transaction.on_commit(lambda: notify(user_id, "replaced"))
    return codes, False


def may_reset(actor: Any) -> list[User]:
    """The officials whose second factor ``actor`` may reset (for the supervisor's page)."""
    units = [
        g.unit_id for g in policy.grants(actor) if g.role == "supervisor" and not g.delegated_by
    ]
    if not units:
        return []
    people = (
        User.objects.filter(appointments__unit_id__in=units, appointments__active=True)
        .exclude(pk=actor.pk)
        .distinct()
        .order_by("last_name", "first_name", "username")
    )
    return [p for p in people if policy.allows(actor, "official.reset_second_factor", p)]


def reset_second_factor(actor: Any, target_id: int, reason: str) -> User:
    """Remove every authenticator and recovery code of an official and end their sessions.

    Their next login asks them to register an authenticator again (the second-factor page
    sends an official without a confirmed device to the enrolment). Audited as ``otp.reset``
    with who and why; the official is told.
    """
    target = User.objects.filter(pk=target_id).first()
    policy.require(actor, "official.reset_second_factor", target)
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(
            {"reason": _("Escriba el motivo, por ejemplo «perdió su teléfono».")}
        )
    if len(reason) > 500:
        raise ValidationFailed(
            {"reason": _("Escriba como máximo %(limit)s caracteres.") % {"limit": 500}}
        )
    with transaction.atomic():
        removed = TOTPDevice.objects.filter(user=target).delete()[0]
        StaticDevice.objects.filter(user=target).delete()
        end_all_sessions(target, reason="second_factor_reset", actor=actor)
        agency = next(
            (
                a.unit.agency.code
                for a in Appointment.objects.filter(user=target, active=True).select_related(
                    "unit__agency"
                )
            ),
            "",
        )
        audit.record(
            "otp.reset",
            "user",
            target.pk,
            actor=actor,
            agency_code=agency,
            data={"reason": reason, "devices_removed": removed},
        )
        target_id, actor_name = target.pk, actor.display_name
        transaction.on_commit(lambda: notify(target_id, "reset", actor_name))
    return target


def notify(user_id: int, event: str, actor_name: str = "") -> None:
    """Tell the official their second factor changed (e-mail, else SMS); never fails the change."""
    from tambo.inbox.sms import SmsError, send_sms

    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return
    with in_language_of(user):
        subject = _("Cambio en su segundo factor")
        if event == "reset":
            text = _(
                "%(site)s: %(actor)s restableció su segundo factor. La próxima vez que ingrese "
                "registrará de nuevo su aplicación de autenticación. Si no lo pidió, avise a su "
                "entidad."
            ) % {"site": settings.TAMBO_SITE_NAME, "actor": actor_name}
        else:
            text = _(
                "%(site)s: registró una nueva aplicación de autenticación y nuevos códigos de "
                "recuperación; los anteriores ya no sirven. Si no fue usted, avise a su entidad."
            ) % {"site": settings.TAMBO_SITE_NAME}
    try:
        if user.email:
            send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [user.email])
        elif user.phone:
            send_sms(user.phone, text)
    except (OSError, SmsError) as exc:
        log.warning("second-factor notice to user %s not sent: %s", user_id, exc)
