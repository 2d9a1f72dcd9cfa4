"""Assisted filing: an intermediary at a service centre files for a citizen who is present.

1. :func:`request_consent` identifies the citizen by their identity document (they must
   already have an account: the one-time code goes to the phone or e-mail *on that account*,
   so the intermediary cannot route it to themselves) and records how consent is given:
   a one-time code (SMS or e-mail), or a signed paper form whose scan is kept.
2. :func:`confirm_code` checks the code the citizen reads out (HMAC at rest, expires after
   ``CODE_MINUTES``, ``MAX_ATTEMPTS`` tries).
3. :func:`start_assisted_draft` opens a draft *owned by the citizen* and assisted by the
   intermediary; the ordinary draft pages fill and file it, and the expediente records
   ``filed_by`` and the consent (``actions._create_filing``).

Every step asks the policy and writes an audit entry. Codes and links go out after commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.mail import send_mail
from django.db import transaction
from django.utils.translation import gettext as _

from tambo.core import audit, clock, ratelimit
from tambo.core.errors import Conflict, NotFound, ValidationFailed
from tambo.identity import policy
from tambo.identity.language import in_language_of
from tambo.identity.models import User
from tambo.inbox.outbox import queue_sms, status_of

from .models import AssistedConsent, Draft
from .uploads import UploadRejected, check_file

CODE_MINUTES = 10
MAX_ATTEMPTS = 5
SCAN_MAX_BYTES = 5 * 1024 * 1024


def _code_hash(consent_id: Any, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{consent_id}:{code}".encode(), hashlib.sha256).hexdigest()


def check_code(
    pending: Any, code: str, *, object_type: str, intermediary: Any
) -> ValidationFailed | None:
    """The one-time code given for ``pending`` (a consent or a desk account request, locked
    by the caller): None when it is right; too many attempts or an expired code raise; a
    wrong code is counted and audited, and its error is returned for the caller to raise
    after commit, so the failed attempt stays counted."""
    if pending.attempts >= MAX_ATTEMPTS:
        raise ValidationFailed(
            {"code": _("Demasiados intentos. Empiece de nuevo para enviar un código nuevo.")}
        )
    if clock.now() > pending.code_expires_at:
        raise ValidationFailed(
            {"code": _("El código venció. Empiece de nuevo para enviar un código nuevo.")}
        )
    given = "".join(code.split())
    if hmac.compare_digest(pending.code_hash, _code_hash(pending.pk, given)):
        return None
    pending.attempts += 1
    pending.save(update_fields=["attempts"])
    audit.record(
        "assisted.code_rejected",
        object_type,
        str(pending.pk),
        actor=intermediary,
        agency_code=pending.unit.agency.code,
        data={"attempts": pending.attempts},
    )
    left = MAX_ATTEMPTS - pending.attempts
    return ValidationFailed(
        {"code": _("El código no es correcto. Le quedan %(n)s intentos.") % {"n": left}}
    )


def _service_unit(intermediary: Any, unit_id: Any = None) -> Any:
    units = policy.intermediary_units(intermediary)
    for unit in units:
        if unit_id in (None, "", unit.pk, str(unit.pk)):
            return unit
    raise ValidationFailed({"unit": _("No atiende en ese centro de servicio.")})


def find_citizen(document_type: str, document_number: str) -> User:
    number = "".join(document_number.split()).upper()
    citizen = User.objects.filter(
        document_type=document_type, document_number=number, is_active=True
    ).first()
    if citizen is None or not number:
        raise ValidationFailed(
            {
                "document_number": _(
                    "No hay una cuenta con ese documento. La persona debe crear su cuenta "
                    "antes de que usted presente por ella."
                )
            }
        )
    return citizen


def request_consent(
    intermediary: Any,
    procedure: Any,
    *,
    document_type: str,
    document_number: str,
    method: str,
    scan: IO[bytes] | None = None,
    unit_id: Any = None,
) -> AssistedConsent:
    """Record how the citizen consents; send the code, or keep the scanned signed form."""
    policy.require(intermediary, "assisted.start")
    unit = _service_unit(intermediary, unit_id)
    if method not in AssistedConsent.Method.values:
        raise ValidationFailed({"method": _("Elija cómo da su consentimiento la persona.")})
    citizen = find_citizen(document_type, document_number)
    if citizen.pk == intermediary.pk:
        raise ValidationFailed({"document_number": _("No puede presentar por usted mismo.")})
    if method == "sms" and not citizen.phone:
        raise ValidationFailed(
            {"method": _("La cuenta de esta persona no tiene un celular registrado.")}
        )
    if method == "email" and not citizen.email:
        raise ValidationFailed(
            {"method": _("La cuenta de esta persona no tiene un correo registrado.")}
        )
    if method == "paper" and scan is None:
        raise ValidationFailed(
            {"scan": _("Adjunte el formulario de consentimiento firmado y escaneado.")}
        )
    if method in ("sms", "email"):
        count_code_request(intermediary, citizen.phone if method == "sms" else citizen.email)
    now = clock.now()
    consent = AssistedConsent(
        citizen=citizen,
        intermediary=intermediary,
        unit=unit,
        procedure=procedure,
        method=method,
        created_at=now,
    )
    code = ""
    if method == "paper":
        try:
            checked = check_file(scan, accepted=("pdf", "jpeg", "png"), max_bytes=SCAN_MAX_BYTES)
        except UploadRejected as exc:
            raise ValidationFailed({"scan": str(exc)}) from None
        consent.scan_sha256 = checked.sha256
        consent.granted_at = now
    else:
        code = f"{secrets.randbelow(10**6):06d}"
        consent.code_hash = _code_hash(consent.pk, code)
        consent.code_expires_at = now + dt.timedelta(minutes=CODE_MINUTES)
    stored = None
    try:
        with transaction.atomic():
            if method == "paper":
                consent.scan.save(str(consent.pk), File(scan), save=False)
                stored = consent.scan.name
            consent.save(force_insert=True)
            audit.record(
                "assisted.consent_requested" if code else "assisted.consent_granted",
                "consent",
                str(consent.pk),
                actor=intermediary,
                agency_code=unit.agency.code,
                data={
                    "citizen": f"{citizen.document_type}:{citizen.document_number}",
                    "procedure": procedure.code,
                    "method": method,
                    "unit": unit.code,
                    "scan_sha256": consent.scan_sha256,
                },
            )
            if code:
                _send_code(consent, code)
    except BaseException:
        if stored:
            AssistedConsent.scan.field.storage.delete(stored)
        raise
    return consent


def _send_code(consent: AssistedConsent, code: str) -> None:
    """Inside the consent's transaction: the SMS goes through the outbox (sent after commit,
    retried on a gateway failure, never after the code expires); the e-mail after commit."""
    citizen = consent.citizen
    with in_language_of(citizen):
        text = _(
            "%(site)s: su código para autorizar que presenten un trámite en su nombre es "
            "%(code)s. Vence en %(minutes)s minutos. Si usted no lo pidió, no lo comparta."
        ) % {"site": settings.TAMBO_SITE_NAME, "code": code, "minutes": CODE_MINUTES}
        subject = _("Código de consentimiento")
    if consent.method == "sms":
        queue_sms(
            citizen.phone,
            text,
            once_key=f"consent:{consent.pk}",
            purpose="consent_code",
            secret=True,
            expires_at=consent.code_expires_at,
        )
        return
    email = citizen.email

    def send() -> None:
        try:
            send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [email])
        except OSError:
            # The intermediary sees "no code arrived" and asks for a new one (or uses paper).
            return

    transaction.on_commit(send)


def code_delivery(consent: AssistedConsent) -> str:
    """Whether the consent's SMS went out: "sent", "pending", "failed"... ("" for e-mail/paper)."""
    if consent.method != "sms":
        return ""
    sms = status_of(f"consent:{consent.pk}")
    return sms.status if sms is not None else ""


def count_code_request(intermediary: Any, contact: str) -> None:
    """Rate limits on sending one-time codes (consent and desk accounts): per intermediary and
    per destination phone or e-mail, so neither a desk nor a citizen's phone can be flooded."""
    ratelimit.hit("consent_code", f"u{intermediary.pk}")
    digest = hashlib.sha256(contact.strip().lower().encode()).hexdigest()[:32]
    ratelimit.hit("consent_code_contact", digest)


def _own_consent(intermediary: Any, consent_id: Any, *, lock: bool = False) -> AssistedConsent:
    """The consent, if the policy lets ``intermediary`` act on it (``assisted.consent``).

    Someone else's consent answers the same "not found" as a missing one (same message), so
    its existence does not leak; its own intermediary, gone from that desk, gets 403.
    """
    qs = AssistedConsent.objects.select_related("citizen", "unit__agency", "procedure__agency")
    if lock:
        qs = qs.select_for_update(of=("self",))
    consent = qs.filter(pk=consent_id).first()
    if consent is not None:
        try:
            policy.require(intermediary, "assisted.consent", consent)
        except NotFound:
            consent = None
    if consent is None:
        raise NotFound(_("No encontramos ese consentimiento."))
    return consent


def get_consent(intermediary: Any, consent_id: Any) -> AssistedConsent:
    return _own_consent(intermediary, consent_id)


def confirm_code(intermediary: Any, consent_id: Any, code: str) -> AssistedConsent:
    """Check the code the citizen received; a wrong one counts as an attempt."""
    with transaction.atomic():
        consent = _own_consent(intermediary, consent_id, lock=True)
        if consent.granted_at is not None:
            return consent
        if not consent.code_hash:
            raise Conflict(_("Este consentimiento no usa un código."), code="no_code")
        wrong = check_code(consent, code, object_type="consent", intermediary=intermediary)
        if wrong is None:
            consent.granted_at = clock.now()
            consent.save(update_fields=["granted_at"])
            audit.record(
                "assisted.consent_granted",
                "consent",
                str(consent.pk),
                actor=intermediary,
                agency_code=consent.unit.agency.code,
                data={
                    "citizen": f"{consent.citizen.document_type}:{consent.citizen.document_number}",
                    "method": consent.method,
                },
            )
            return consent
    # Raised after commit, so the failed attempt stays counted.
    raise wrong


def start_assisted_draft(intermediary: Any, consent_id: Any) -> Draft:
    """Open the citizen's draft for the consented procedure; refused without consent."""
    with transaction.atomic():
        consent = _own_consent(intermediary, consent_id, lock=True)
        if consent.granted_at is None:
            raise Conflict(
                _("La persona todavía no dio su consentimiento."), code="consent_missing"
            )
        existing = Draft.objects.filter(consent=consent).first()
        if existing is not None:
            return existing
        procedure = consent.procedure
        version = procedure.current_version
        if version is None or not procedure.is_active:
            raise Conflict(_("Este trámite no está disponible."), code="procedure_unavailable")
        now = clock.now()
        draft = Draft.objects.create(
            citizen=consent.citizen,
            procedure_version=version,
            created_at=now,
            updated_at=now,
            assisted_by=intermediary,
            consent=consent,
        )
        audit.record(
            "draft.started",
            "draft",
            draft.pk,
            actor=intermediary,
            agency_code=procedure.agency.code,
            data={
                "procedure": procedure.code,
                "version": version.number,
                "on_behalf_of": f"{consent.citizen.document_type}:"
                f"{consent.citizen.document_number}",
                "consent": str(consent.pk),
            },
        )
    return draft


def filed_by_me(intermediary: Any) -> list[Any]:
    """The expedientes this intermediary filed (never the citizens' other ones)."""
    from .models import Filing

    policy.require(intermediary, "assisted.list_own")
    return list(
        Filing.objects.filter(filed_by=intermediary)
        .select_related("agency", "procedure_version__procedure", "citizen")
        .order_by("-submitted_at", "-pk")[:50]
    )
