"""Accounts created at a service centre for a person who is present and has none.

Assisted filing needs the citizen's own account (the consent code goes to the phone or e-mail
on it). A person without one can get it at the desk:

1. :func:`request_account`: the intermediary types the DNI (checked with python-stdnum), the
   name and a phone or e-mail, and records the person's consent as for assisted filing: a
   one-time code sent to that phone or e-mail (proving it is theirs), or the signed paper
   form, scanned. A DNI that already has an account is refused with a message that says
   nothing about its holder.
2. :func:`confirm_code` checks the code the person reads out (HMAC at rest, expires,
   few attempts); with paper, step 1 already did. Then the account is created **without a
   password**, and a one-time activation link goes to the person's phone (SMS) or e-mail.
3. :func:`activate`: the person opens the link and chooses their own password; the
   intermediary never knows it.

Every step asks the policy (``assisted.create_account``; on a request already made,
``assisted.enrolment``), is rate-limited and audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.pe import cui

from tambo.core import audit, clock, ratelimit
from tambo.core.errors import Conflict, NotFound, ValidationFailed
from tambo.identity import policy
from tambo.identity.models import User
from tambo.identity.phones import normalize_mobile
from tambo.inbox.outbox import queue_sms

from .assisted import (
    CODE_MINUTES,
    SCAN_MAX_BYTES,
    _code_hash,
    _service_unit,
    check_code,
    count_code_request,
)
from .models import AccountEnrolment
from .uploads import UploadRejected, check_file

ACTIVATION_HOURS = 72


def _existing_message() -> str:
    return _(
        "Ya hay una cuenta con ese DNI. La persona puede ingresar con ella o recuperar su acceso; "
        "para presentar por ella use “Presentar en nombre de una persona”."
    )


def check_dni(raw: str) -> str:
    """The 8-digit DNI, from 8 digits or the 9 characters of the CUI (with its check digit)."""
    number = "".join(raw.split()).replace("-", "").upper()
    try:
        valid = cui.validate(number)
    except StdnumError:
        raise ValidationFailed(
            {"document_number": _("Escriba un DNI válido: 8 dígitos.")}
        ) from None
    return valid[:8]


def _clean(
    *,
    document_number: str,
    first_name: str,
    last_name: str,
    phone: str,
    email: str,
    method: str,
    scan: IO[bytes] | None,
) -> dict[str, str]:
    errors: dict[str, str] = {}
    values = {"document_type": "dni"}
    try:
        values["document_number"] = check_dni(document_number)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    for name, value in (("first_name", first_name), ("last_name", last_name)):
        value = " ".join(value.split())[:150]
        if not value:
            errors[name] = (
                _("Escriba los nombres.") if name == "first_name" else _("Escriba los apellidos.")
            )
        values[name] = value
    values["phone"] = ""
    if phone.strip():
        try:
            values["phone"] = normalize_mobile(phone)
        except ValidationFailed as exc:
            errors.update(exc.errors)
    values["email"] = email.strip()[:254]
    if values["email"]:
        try:
            validate_email(values["email"])
        except ValidationError:
            errors["email"] = _("Escriba un correo válido, por ejemplo nombre@ejemplo.pe.")
    if not phone.strip() and not values["email"]:
        errors.setdefault(
            "phone",
            _("Escriba un celular o un correo: allí llegará el enlace para elegir su contraseña."),
        )
    if method not in AccountEnrolment.Method.values:
        errors["method"] = _("Elija cómo da su consentimiento la persona.")
    elif method == "sms" and not phone.strip():
        errors.setdefault("method", _("Para el código por SMS escriba el celular de la persona."))
    elif method == "email" and not values["email"]:
        errors.setdefault("method", _("Para el código por correo escriba el correo de la persona."))
    elif method == "paper" and scan is None:
        errors["scan"] = _("Adjunte el formulario de consentimiento firmado y escaneado.")
    if errors:
        raise ValidationFailed(errors)
    return values


def _refuse_existing(document_number: str) -> None:
    if User.objects.filter(document_type="dni", document_number=document_number).exists():
        raise ValidationFailed({"document_number": _existing_message()})


def request_account(
    intermediary: Any,
    *,
    document_number: str,
    first_name: str,
    last_name: str,
    phone: str = "",
    email: str = "",
    method: str,
    scan: IO[bytes] | None = None,
    unit_id: Any = None,
) -> AccountEnrolment:
    """Record the request and the consent; with paper the account is created at once."""
    policy.require(intermediary, "assisted.create_account")
    unit = _service_unit(intermediary, unit_id)
    values = _clean(
        document_number=document_number,
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        email=email,
        method=method,
        scan=scan,
    )
    # Counted before the DNI is looked up, so the refusal cannot be used to probe, unlimited,
    # which DNIs have an account.
    ratelimit.hit("desk_account", f"u{intermediary.pk}")
    _refuse_existing(values["document_number"])
    if method in ("sms", "email"):
        count_code_request(intermediary, values["phone"] if method == "sms" else values["email"])
    now = clock.now()
    enrolment = AccountEnrolment(
        intermediary=intermediary, unit=unit, method=method, created_at=now, **values
    )
    code = ""
    if method == "paper":
        try:
            checked = check_file(scan, accepted=("pdf", "jpeg", "png"), max_bytes=SCAN_MAX_BYTES)
        except UploadRejected as exc:
            raise ValidationFailed({"scan": str(exc)}) from None
        enrolment.scan_sha256 = checked.sha256
    else:
        code = f"{secrets.randbelow(10**6):06d}"
        enrolment.code_hash = _code_hash(enrolment.pk, code)
        enrolment.code_expires_at = now + dt.timedelta(minutes=CODE_MINUTES)
    stored = None
    try:
        with transaction.atomic():
            if method == "paper":
                enrolment.scan.save(str(enrolment.pk), File(scan), save=False)
                stored = enrolment.scan.name
            enrolment.save(force_insert=True)
            audit.record(
                "assisted.account_requested",
                "enrolment",
                str(enrolment.pk),
                actor=intermediary,
                agency_code=unit.agency.code,
                data={
                    "citizen": f"dni:{enrolment.document_number}",
                    "method": method,
                    "unit": unit.code,
                    "scan_sha256": enrolment.scan_sha256,
                },
            )
            if code:
                _send(
                    enrolment,
                    _code_text(code),
                    once_key=f"enrolment-code:{enrolment.pk}",
                    expires_at=enrolment.code_expires_at,
                    by=method,
                )
            else:
                _create_account(enrolment)
    except BaseException:
        if stored:
            AccountEnrolment.scan.field.storage.delete(stored)
        raise
    return enrolment


def _code_text(code: str) -> str:
    return _(
        "%(site)s: su código para que le creen una cuenta es %(code)s. Vence en %(minutes)s "
        "minutos. Si usted no lo pidió, no lo comparta."
    ) % {"site": settings.TAMBO_SITE_NAME, "code": code, "minutes": CODE_MINUTES}


def _send(
    enrolment: AccountEnrolment, text: str, *, once_key: str, expires_at: dt.datetime, by: str
) -> None:
    """Inside the transaction: an SMS through the outbox, or an e-mail after commit."""
    if by == "sms":
        queue_sms(
            enrolment.phone,
            text,
            once_key=once_key,
            purpose="enrolment",
            secret=True,
            expires_at=expires_at,
        )
        return
    to = enrolment.email
    subject = _("Su cuenta en %(site)s") % {"site": settings.TAMBO_SITE_NAME}

    def send() -> None:
        try:
            send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [to])
        except OSError:
            return  # the intermediary may send the link again (a new request) or use the SMS

    transaction.on_commit(send)


def _own(intermediary: Any, enrolment_id: Any, *, lock: bool = False) -> AccountEnrolment:
    """The request, if the policy lets ``intermediary`` act on it (``assisted.enrolment``).

    Someone else's request answers the same "not found" as a missing one (same message), so
    its existence does not leak; its own intermediary, gone from that desk, gets 403.
    """
    qs = AccountEnrolment.objects.select_related("unit__agency")
    if lock:
        qs = qs.select_for_update(of=("self",))
    enrolment = qs.filter(pk=enrolment_id).first()
    if enrolment is not None:
        try:
            policy.require(intermediary, "assisted.enrolment", enrolment)
        except NotFound:
            enrolment = None
    if enrolment is None:
        raise NotFound(_("No encontramos esa solicitud de cuenta."))
    return enrolment


def get_enrolment(intermediary: Any, enrolment_id: Any) -> AccountEnrolment:
    return _own(intermediary, enrolment_id)


def confirm_code(intermediary: Any, enrolment_id: Any, code: str) -> AccountEnrolment:
    """Check the code the person received; a right one creates the account."""
    with transaction.atomic():
        enrolment = _own(intermediary, enrolment_id, lock=True)
        if enrolment.citizen_id is not None:
            return enrolment
        if not enrolment.code_hash:
            raise Conflict(_("Esta solicitud no usa un código."), code="no_code")
        wrong = check_code(enrolment, code, object_type="enrolment", intermediary=intermediary)
        if wrong is None:
            _create_account(enrolment)
            return enrolment
    raise wrong  # after commit, so the failed attempt stays counted


def _activation_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _create_account(enrolment: AccountEnrolment) -> None:
    """Inside a transaction: the account without a password, and its activation link."""
    number = enrolment.document_number
    try:
        with transaction.atomic():
            _refuse_existing(number)
            citizen = User(
                username=f"dni-{number}",
                document_type="dni",
                document_number=number,
                first_name=enrolment.first_name,
                last_name=enrolment.last_name,
                email=enrolment.email,
                phone=enrolment.phone,
            )
            citizen.set_unusable_password()
            citizen.save()
    except IntegrityError:
        raise ValidationFailed({"document_number": _existing_message()}) from None
    enrolment.citizen = citizen
    enrolment.account_created_at = clock.now()
    token = _new_activation(enrolment)
    enrolment.save(
        update_fields=[
            "citizen",
            "account_created_at",
            "activation_hash",
            "activation_expires_at",
        ]
    )
    audit.record(
        "account.created_at_desk",
        "user",
        citizen.pk,
        actor=enrolment.intermediary,
        agency_code=enrolment.unit.agency.code,
        data={
            "citizen": f"dni:{number}",
            "enrolment": str(enrolment.pk),
            "consent_method": enrolment.method,
            "unit": enrolment.unit.code,
        },
    )
    _send_activation(enrolment, token, once_key=f"activation:{enrolment.pk}")


def _new_activation(enrolment: AccountEnrolment) -> str:
    """A fresh one-time token for the enrolment (the previous one stops working)."""
    token = secrets.token_urlsafe(24)
    enrolment.activation_hash = _activation_hash(token)
    enrolment.activation_expires_at = clock.now() + dt.timedelta(hours=ACTIVATION_HOURS)
    return token


def _send_activation(enrolment: AccountEnrolment, token: str, *, once_key: str) -> None:
    link = settings.TAMBO_PUBLIC_URL.rstrip("/") + f"/cuenta/activar/{token}/"
    text = _(
        "%(site)s: active su cuenta y elija su contraseña en %(link)s (vence en %(hours)s horas)."
    ) % {"site": settings.TAMBO_SITE_NAME, "link": link, "hours": ACTIVATION_HOURS}
    _send(
        enrolment,
        text,
        once_key=once_key,
        expires_at=enrolment.activation_expires_at,
        by="sms" if enrolment.phone else "email",
    )


def resend_activation(intermediary: Any, enrolment_id: Any) -> AccountEnrolment:
    """A new activation link (the person lost the message, or it expired); the old one dies.

    Counted like a code (per intermediary and per phone or e-mail) and audited.
    """
    with transaction.atomic():
        enrolment = _own(intermediary, enrolment_id, lock=True)
        if enrolment.citizen_id is None:
            raise Conflict(_("La cuenta todavía no fue creada."), code="account_not_created")
        if enrolment.activated_at is not None:
            raise Conflict(
                _("La persona ya eligió su contraseña: puede ingresar con su usuario."),
                code="already_activated",
            )
        count_code_request(intermediary, enrolment.phone or enrolment.email)
        token = _new_activation(enrolment)
        enrolment.save(update_fields=["activation_hash", "activation_expires_at"])
        audit.record(
            "account.activation_resent",
            "user",
            enrolment.citizen_id,
            actor=intermediary,
            agency_code=enrolment.unit.agency.code,
            data={"enrolment": str(enrolment.pk)},
        )
        stamp = int(clock.now().timestamp())
        _send_activation(enrolment, token, once_key=f"activation:{enrolment.pk}:{stamp}")
    return enrolment


def activation_for(token: str) -> AccountEnrolment:
    """The enrolment whose link this is, if it is still usable; else :class:`NotFound`."""
    enrolment = (
        AccountEnrolment.objects.select_related("citizen")
        .filter(activation_hash=_activation_hash(token[:100]))
        .first()
        if token
        else None
    )
    if (
        enrolment is None
        or enrolment.activated_at is not None
        or enrolment.citizen is None
        or clock.now() > enrolment.activation_expires_at
    ):
        raise NotFound(
            _(
                "Este enlace ya no sirve: venció o ya se usó. Pida uno nuevo en el centro de servicio."
            )
        )
    return enrolment


def activate(token: str, password: str, repeated: str) -> User:
    """The person chooses their password with the one-time link; the link then stops working."""
    policy.require(None, "account.activate")
    with transaction.atomic():
        enrolment = activation_for(token)
        enrolment = AccountEnrolment.objects.select_for_update().get(pk=enrolment.pk)
        if enrolment.activated_at is not None:
            raise NotFound(_("Este enlace ya no sirve: venció o ya se usó."))
        citizen = User.objects.get(pk=enrolment.citizen_id)
        if password != repeated:
            raise ValidationFailed({"password2": _("Las dos contraseñas no son iguales.")})
        try:
            validate_password(password, citizen)
        except ValidationError as exc:
            raise ValidationFailed({"password1": " ".join(exc.messages)}) from None
        citizen.set_password(password)
        citizen.save(update_fields=["password"])
        enrolment.activated_at = clock.now()
        enrolment.save(update_fields=["activated_at"])
        audit.record("account.activated", "user", citizen.pk, actor=citizen, data={})
    return citizen
