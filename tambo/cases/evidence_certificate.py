"""The constancia de documentos obtenidos: a signed record of what was obtained for a filing.

The receipt (cargo) lists each obtained requirement with its state when the receipt was
issued — usually "requested, pending", since the fetch runs after the filing commits. The
receipt is never re-issued: once no requirement is pending any more and at least one was
obtained, the filing's agency issues this second signed, verifiable document (the same
documents machinery as the receipt), listing what was obtained, from whom, when and under
which request id, and deposits it in the citizen's casilla — in the citizen's language.

Queued after the commit that settled the last row (:func:`evidence._certificate_when_settled`);
:func:`issue_due_certificates`, run by the sweep, issues those a crash or a full queue left
behind. Once per filing: the rows it lists are marked ``reported_at`` in the same
transaction, and the casilla notice carries a unique key.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from tambo.catalog.models import Agency
from tambo.catalog.texts import localize
from tambo.core import clock
from tambo.identity.language import in_language_of

from .models import Filing, ObtainedEvidence

log = logging.getLogger(__name__)
Status = ObtainedEvidence.Status
GRACE = dt.timedelta(minutes=5)  # the queued task normally issues it within seconds
MAX_DATA_LINES = 20


def data_lines(data: Any, prefix: str = "") -> list[str]:
    """The obtained answer as short ``path: value`` lines (what the PDF prints)."""
    if isinstance(data, dict):
        return [line for k, v in data.items() for line in data_lines(v, f"{prefix}{k}.")]
    if isinstance(data, list):
        return [
            line for i, v in enumerate(data, 1) for line in data_lines(v, f"{prefix[:-1]}[{i}].")
        ]
    return [f"{prefix[:-1]}: {'—' if data is None else data}"]


def _rows(filing: Filing, rows: list[ObtainedEvidence]) -> list[dict[str, Any]]:
    spec = filing.procedure_version.file
    names = {r.id: localize(r.name) for r in spec.obtained_requirements()}
    agencies = dict(
        Agency.objects.filter(code__in={r.provider for r in rows}).values_list("code", "name")
    )
    shown = []
    for row in rows:
        lines = data_lines(row.data) if row.status == Status.OBTAINED and row.data else []
        shown.append(
            {
                "name": names.get(row.requirement, row.requirement),
                "provider": row.provider,
                "provider_name": agencies.get(row.provider, row.provider),
                "service": f"{row.service}/{row.version}",
                "status": row.status,
                "status_label": str(row.get_status_display()),
                "obtained_at": row.obtained_at,
                "request_id": row.request_id if row.status == Status.OBTAINED else "",
                "data_lines": lines[:MAX_DATA_LINES],
                "more_data": max(0, len(lines) - MAX_DATA_LINES),
            }
        )
    return shown


def issue_certificate(filing_id: int) -> Any:
    """Issue the filing's constancia if it is due; return it (None when not due).

    Due when no row is pending and some obtained row is not in a constancia yet. Runs in
    one transaction with the expediente locked: the document, its audit entry, the casilla
    notice and the rows' ``reported_at`` commit together or not at all.
    """
    from tambo.documents.actions import issue_pdf
    from tambo.inbox.actions import deposit

    with transaction.atomic():
        filing = (
            Filing.objects.select_for_update(of=("self",))
            .select_related("agency", "citizen", "procedure_version__procedure")
            .filter(pk=filing_id)
            .first()
        )
        if filing is None:
            return None
        rows = list(ObtainedEvidence.objects.filter(filing=filing).order_by("pk"))
        if any(r.status == Status.PENDING for r in rows) or not any(
            r.status == Status.OBTAINED and r.reported_at is None for r in rows
        ):
            return None
        now = clock.now()
        with in_language_of(filing.citizen):
            with translation.override("es"):
                spanish_type = _("Constancia de documentos obtenidos")
            document = issue_pdf(
                agency=filing.agency,
                kind="evidence_certificate",
                title=_("Constancia de documentos obtenidos — %(number)s")
                % {"number": filing.number},
                template_name="cases/evidence_certificate_pdf.html",
                context={
                    "filing": filing,
                    "procedure_name": localize(filing.procedure_version.file.name),
                    "rows": _rows(filing, rows),
                    "issued_at": now,
                },
                subject_type="filing",
                subject_id=filing.number,
                public_fields={
                    "tipo": spanish_type,
                    "expediente": filing.number,
                    "entidad": filing.agency.name,
                    "fecha": now.astimezone(clock.LIMA).date().isoformat(),
                },
                actor=None,
            )
            deposit(
                filing,
                kind="evidence_obtained",
                title=_("Documentos obtenidos de otras entidades"),
                body=_(
                    "Obtuvimos de otras entidades los documentos que no tuvo que traer para el "
                    "expediente %(number)s. Adjuntamos la constancia firmada, que cualquiera "
                    "puede verificar con su código."
                )
                % {"number": filing.number},
                document_code=document.code,
                once_key=f"{filing.pk}:evidence_obtained",
            )
        ObtainedEvidence.objects.filter(
            pk__in=[r.pk for r in rows if r.status == Status.OBTAINED]
        ).update(reported_at=now)
    return document


def issue_due_certificates(limit: int = 200) -> int:
    """Issue the constancias still due (their task was lost or failed); for the sweep."""
    overdue = clock.now() - GRACE
    filings = (
        ObtainedEvidence.objects.filter(
            status=Status.OBTAINED, reported_at__isnull=True, obtained_at__lte=overdue
        )
        .order_by("filing_id")
        .values_list("filing_id", flat=True)
        .distinct()[:limit]
    )
    issued = 0
    for filing_id in list(filings):
        try:
            issued += issue_certificate(filing_id) is not None
        except Exception:  # one agency's signing problem must not stop the others
            log.exception(
                "constancia of filing %s not issued; the next sweep tries again", filing_id
            )
    return issued
