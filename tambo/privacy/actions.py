"""Writes about personal data: legal reserve, consent, correction requests, retention.

Each action asks the policy, runs in one transaction and appends its audit entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from tambo.core import audit, clock
from tambo.core.errors import NotFound, ValidationFailed
from tambo.identity import policy

from .models import AccessEntry, Consent, CorrectionRequest, CorrectionStatus

MAX_RESERVE_DAYS = 5 * 366


def place_reserve(user: Any, number: str, until: dt.date | None, reason: str) -> Any:
    """Put an expediente under legal reserve through ``until`` (``None`` lifts it).

    While the reserve lasts, who reads the expediente is withheld from its citizen. The
    entries already withheld follow the new date, so lifting or shortening the reserve shows
    them to the citizen; nothing is ever deleted. The audit entry says how many entries the
    change withheld or released, so oversight sees the withholding itself.
    """
    from tambo.cases.models import Filing

    today = clock.local_now().date()
    errors = {}
    if not reason.strip():
        errors["reason"] = _("Indique el fundamento legal de la reserva.")
    if until is not None and not (today <= until <= today + dt.timedelta(days=MAX_RESERVE_DAYS)):
        errors["until"] = _("La fecha debe ser de hoy en adelante y dentro de cinco años.")
    with transaction.atomic():
        filing = (
            Filing.objects.select_for_update(of=("self",))
            .select_related("agency")
            .filter(number=number)
            .first()
        )
        if filing is None:
            raise NotFound(_("No encontramos ese expediente."))
        policy.require(user, "filing.reserve", filing)
        if errors:
            raise ValidationFailed(errors)
        previous = filing.reserved_until
        filing.reserved_until = until
        filing.save(update_fields=["reserved_until"])
        # Entries recorded while the reserve was in force follow it; an ended reserve
        # leaves them with the day before today, so the citizen sees them from now on.
        already = AccessEntry.objects.filter(
            filing_number=number, withheld_until__isnull=False, withheld_until__gte=today
        )
        moved = already.update(withheld_until=until or today - dt.timedelta(days=1))
        audit.record(
            "filing.reserve_lifted" if until is None else "filing.reserve_placed",
            "filing",
            number,
            actor=user,
            agency_code=filing.agency.code,
            data={
                "until": until.isoformat() if until else None,
                "previous": previous.isoformat() if previous else None,
                "reason": reason.strip()[:500],
                "access_entries_moved": moved,
            },
        )
    return filing


def record_consent(citizen: Any, filing: Any, text: str) -> Consent:
    """Keep the consent given when filing (caller's transaction): the text, its hash, the time."""
    consent = Consent.objects.create(
        citizen=citizen,
        filing=filing,
        text=text,
        text_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        given_at=clock.now(),
    )
    return consent


def request_correction(citizen: Any, text: str, filing_number: str = "") -> CorrectionRequest:
    """The citizen says what is wrong in their data (derecho de rectificación, Ley 29733 art. 20)."""
    policy.require(citizen, "correction.request")
    text = text.strip()
    filing_number = filing_number.strip().upper()[:40]
    errors = {}
    if len(text) < 10:
        errors["text"] = _("Explique qué dato está mal y cuál es el correcto.")
    elif len(text) > 4000:
        errors["text"] = _("Escriba como máximo 4000 caracteres.")
    if filing_number:
        from tambo.cases.models import Filing

        if not Filing.objects.filter(number=filing_number, citizen=citizen).exists():
            errors["filing"] = _("No tiene un expediente con ese número.")
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        request = CorrectionRequest.objects.create(
            citizen=citizen, text=text, filing_number=filing_number, created_at=clock.now()
        )
        audit.record(
            "privacy.correction_requested",
            "correction",
            request.pk,
            actor=citizen,
            data={"filing": filing_number},
        )
    return request


def resolve_correction(official: Any, request_id: int, status: str, response: str) -> Any:
    """An official answers a correction request (done or rejected, with the reason)."""
    if status not in {CorrectionStatus.DONE, CorrectionStatus.REJECTED}:
        raise ValidationFailed({"status": _("Elija «Corregido» o «Denegado».")})
    if not response.strip():
        raise ValidationFailed({"response": _("Escriba la respuesta para el ciudadano.")})
    with transaction.atomic():
        request = CorrectionRequest.objects.select_for_update().filter(pk=request_id).first()
        if request is None:
            raise NotFound(_("No encontramos esa solicitud."))
        policy.require(official, "correction.resolve", request)
        request.status = status
        request.response = response.strip()
        request.resolved_at = clock.now()
        request.resolved_by = official
        request.save(update_fields=["status", "response", "resolved_at", "resolved_by"])
        audit.record(
            "privacy.correction_resolved",
            "correction",
            request.pk,
            actor=official,
            data={"status": status},
        )
    return request
