"""Writes on drafts and expedientes: one function per action.

Each action checks permission, runs in one transaction, appends the audit entry,
and leaves side effects for after commit. A filing either completes whole or leaves
nothing behind: the files it stores are removed again if the transaction rolls back.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from tambo.catalog.answers import validate_answers
from tambo.catalog.fees import UnknownUIT
from tambo.catalog.models import ProcedureVersion
from tambo.catalog.queries import agency_calendar
from tambo.catalog.texts import localize
from tambo.core import audit, clock
from tambo.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from tambo.identity import policy

from . import evidence
from .models import Document, Draft, Filing, FilingCounter
from .terms import legal_dates
from .uploads import UploadRejected, check_file

ACCESS_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def start_draft(citizen: Any, version: ProcedureVersion) -> Draft:
    policy.require(citizen, "draft.start")
    if version.procedure.current_version_id != version.pk or not version.procedure.is_active:
        raise Conflict(
            _("Este trámite ya no está disponible en esta versión."), code="procedure_outdated"
        )
    now = clock.now()
    with transaction.atomic():
        draft = Draft.objects.create(
            citizen=citizen, procedure_version=version, created_at=now, updated_at=now
        )
        audit.record(
            "draft.started",
            "draft",
            draft.pk,
            actor=citizen,
            agency_code=version.procedure.agency.code,
            data={"procedure": version.procedure.code, "version": version.number},
        )
    return draft


def _locked_draft(citizen: Any, draft_id: Any, action: str) -> Draft:
    # Only the draft row: FOR UPDATE over the join would also lock the agency row, and a
    # concurrent filing's deferred foreign-key check on that agency (at its COMMIT, while it
    # holds the agency's number counter) would then deadlock with this filing's counter update
    # (seen under the load mix: deadlock_timeout waits and 503s).
    draft = (
        Draft.objects.select_for_update(of=("self",))
        .select_related("procedure_version__procedure__agency")
        .filter(pk=draft_id)
        .first()
    )
    if draft is None:
        raise NotFound(_("No encontramos ese borrador."))
    policy.require(citizen, action, draft)
    if Filing.objects.filter(draft_id=draft.pk).exists() and action != "draft.submit":
        raise Conflict(_("Este borrador ya fue presentado."), code="draft_already_filed")
    return draft


def save_answers(citizen: Any, draft_id: Any, answers: dict[str, Any]) -> Draft:
    """Save answers into a draft, checking the values given (missing ones are allowed).

    Values that are wrong are reported and not saved; the others are kept.
    """
    with transaction.atomic():
        draft = _locked_draft(citizen, draft_id, "draft.edit")
        cleaned, errors = validate_answers(
            draft.procedure_version.file, answers, set(), partial=True
        )
        merged = {**draft.answers, **cleaned}
        for name, value in answers.items():
            if value in (None, "") and name in merged:
                merged.pop(name)
        draft.answers = merged
        draft.updated_at = clock.now()
        draft.save(update_fields=["answers", "updated_at"])
        audit.record(
            "draft.saved", "draft", draft.pk, actor=citizen, data={"fields": sorted(cleaned)}
        )
    if errors:
        raise ValidationFailed(errors)
    return draft


def attach_document(
    citizen: Any, draft_id: Any, field_name: str, stream: IO[bytes], filename: str
) -> Document:
    """Check an uploaded file by content and keep it with the draft (replacing the field's previous one)."""
    with _storing() as stored, transaction.atomic():
        draft = _locked_draft(citizen, draft_id, "draft.edit")
        others = (
            draft.documents.exclude(field_name=field_name).aggregate(total=Sum("size"))["total"]
            or 0
        )
        previous = list(draft.documents.filter(field_name=field_name))
        document = _store_document(
            stored,
            draft.citizen,  # the citizen's document, even when an intermediary uploads it
            draft.procedure_version.file,
            field_name,
            stream,
            filename,
            already=others,
            draft=draft,
        )
        for old in previous:
            old.draft = None
            old.save(update_fields=["draft"])
            _delete_after_commit(old)
        draft.updated_at = clock.now()
        draft.save(update_fields=["updated_at"])
        audit.record(
            "draft.document_added",
            "draft",
            draft.pk,
            actor=citizen,
            data={
                "field": field_name,
                "sha256": document.sha256,
                "size": document.size,
                "media_type": document.media_type,
            },
        )
    return document


class _StoredFiles(list):
    """Names of files written during an action, removed again if the action fails."""


@contextlib.contextmanager
def _storing() -> Iterator[_StoredFiles]:
    stored = _StoredFiles()
    try:
        yield stored
    except BaseException:
        for name in stored:
            Document.file.field.storage.delete(name)
        raise


def _store_document(
    stored: _StoredFiles,
    owner: Any,
    form: Any,
    field_name: str,
    stream: IO[bytes],
    filename: str,
    *,
    already: int,
    draft: Draft | None = None,
    filing: Filing | None = None,
) -> Document:
    """Check a file for a file field (type by content, size per file and per expediente) and store it."""
    field = next((f for f in form.form if f.name == field_name and f.type == "file"), None)
    if field is None:
        raise ValidationFailed({field_name: _("Este campo no admite archivos.")})
    limit = settings.TAMBO_MAX_FILE_BYTES
    if field.max_mb:
        limit = min(limit, int(field.max_mb * 1024 * 1024))
    try:
        checked = check_file(
            stream,
            accepted=field.accepted_types,
            max_bytes=limit,
            filename=filename,
            claimed_type=getattr(stream, "content_type", None),
        )
    except UploadRejected as exc:
        raise ValidationFailed({field_name: str(exc)}) from None
    if already + checked.size > settings.TAMBO_MAX_FILING_BYTES:
        raise ValidationFailed(
            {
                field_name: _(
                    "Los archivos de este trámite superan el máximo de %(mb)s MB en total."
                )
                % {"mb": settings.TAMBO_MAX_FILING_BYTES // (1024 * 1024)}
            }
        )
    document = Document(
        owner=owner,
        draft=draft,
        filing=filing,
        field_name=field_name,
        original_name=(filename or "archivo")[-200:],
        media_type=checked.media_type,
        size=checked.size,
        sha256=checked.sha256,
        uploaded_at=clock.now(),
    )
    document.file.save(f"{document.pk}", File(stream), save=False)
    stored.append(document.file.name)
    document.save()
    return document


def _delete_after_commit(document: Document) -> None:
    name = document.file.name
    pk = document.pk

    def delete() -> None:
        Document.objects.filter(pk=pk, filing__isnull=True).delete()
        Document.file.field.storage.delete(name)

    transaction.on_commit(delete)


def remove_document(citizen: Any, draft_id: Any, field_name: str) -> None:
    with transaction.atomic():
        draft = _locked_draft(citizen, draft_id, "draft.edit")
        for document in draft.documents.filter(field_name=field_name):
            document.draft = None
            document.save(update_fields=["draft"])
            _delete_after_commit(document)
        audit.record(
            "draft.document_removed", "draft", draft.pk, actor=citizen, data={"field": field_name}
        )


def discard_draft(citizen: Any, draft_id: Any) -> None:
    with transaction.atomic():
        draft = _locked_draft(citizen, draft_id, "draft.discard")
        for document in draft.documents.all():
            _delete_after_commit(document)
        audit.record("draft.discarded", "draft", draft.pk, actor=citizen)
        draft.delete()


@dataclass(frozen=True)
class FilingResult:
    filing: Filing
    created: bool


def _next_number(agency_id: int, agency_code: str, year: int) -> str:
    """Take the next gapless number for the agency and year.

    One ``UPDATE ... RETURNING`` (the row stays locked until commit, so numbers are never
    repeated or skipped); the counter row is created the first time a year is used.
    """
    table = FilingCounter._meta.db_table
    sql = f"UPDATE {table} SET last = last + 1 WHERE agency_id = %s AND year = %s RETURNING last"  # noqa: S608 - table name from the model; values are parameters  # nosec B608
    with connection.cursor() as cursor:
        cursor.execute(sql, [agency_id, year])
        row = cursor.fetchone()
        if row is None:
            FilingCounter.objects.bulk_create(
                [FilingCounter(agency_id=agency_id, year=year)], ignore_conflicts=True
            )
            cursor.execute(sql, [agency_id, year])
            row = cursor.fetchone()
    return f"{agency_code}-{year}-{row[0]:07d}"


def _insert_filing_postgres(filing: Filing, year: int, actor: Any, audit_data: dict) -> None:
    """Number, expediente and audit entry in one statement (PostgreSQL).

    The counter is taken by an upsert (creating the agency's row for a new year), the
    number formatted in SQL as :func:`_next_number` does, and the audit entry names it.
    The counter row stays locked until commit, which is now one round trip away.
    """
    fields = _filing_insert_fields()
    counter, table = FilingCounter._meta.db_table, Filing._meta.db_table
    quote = connection.ops.quote_name
    prelude = (
        f"counter AS (INSERT INTO {counter} (agency_id, year, last) VALUES (%s, %s, 1) "  # noqa: S608 - table names from the models; values are parameters  # nosec B608
        f"ON CONFLICT (agency_id, year) DO UPDATE SET last = {counter}.last + 1 "
        f"RETURNING last), "
        f"filing AS (INSERT INTO {table} (number, {', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ((SELECT %s || lpad(last::text, greatest(7, length(last::text)), '0') "
        f"FROM counter), {', '.join(['%s'] * len(fields))}) RETURNING id, number)"
    )
    params = [
        filing.agency_id,
        year,
        f"{filing.agency.code}-{year}-",
        *(f.get_db_prep_save(f.pre_save(filing, True), connection) for f in fields),
    ]
    filing_id, number = audit.record_with_statement(
        prelude,
        params,
        "SELECT number FROM filing",
        "filing.id, filing.number FROM filing",
        "filing.submitted",
        "filing",
        actor=actor,
        agency_code=filing.agency.code,
        data=audit_data,
    )
    filing.pk, filing.number = filing_id, number
    filing._state.adding = False
    filing._state.db = connection.alias


@functools.cache
def _filing_insert_fields() -> list[Any]:
    return [f for f in Filing._meta.concrete_fields if not f.primary_key and f.name != "number"]


def _access_code() -> str:
    return "".join(secrets.choice(ACCESS_CODE_ALPHABET) for _ in range(8))


def submit_draft(
    citizen: Any,
    draft_id: Any,
    *,
    idempotency_key: str | None = None,
    channel: str = "web",
    data_consent: bool = False,
) -> FilingResult:
    """File the draft as an expediente; repeating the request returns the same expediente.

    ``data_consent``: the citizen accepted the procedure's consent to the processing of
    their data (``consent:`` in its file), if it declares one.
    """
    if idempotency_key is not None and not (1 <= len(idempotency_key) <= 80):
        raise DomainError(
            _("La clave Idempotency-Key debe tener entre 1 y 80 caracteres."),
            code="bad_idempotency_key",
            field="Idempotency-Key",
        )
    try:
        with transaction.atomic():
            return _submit(citizen, draft_id, idempotency_key, channel, data_consent)
    except IntegrityError:
        # A concurrent request with the same key or draft won the race: return its result.
        owner_id = Draft.objects.filter(pk=draft_id).values_list("citizen_id", flat=True).first()
        existing = _existing_filing(owner_id or citizen, draft_id, idempotency_key)
        if existing is None:
            raise
        return FilingResult(existing, created=False)


def _existing_filing(citizen: Any, draft_id: Any, key: str | None) -> Filing | None:
    if key is not None:
        found = Filing.objects.filter(citizen=citizen, idempotency_key=key).first()
        if found is not None:
            if str(found.draft_id) != str(draft_id) and found.draft_id is not None:
                raise Conflict(
                    _("Esta clave Idempotency-Key ya se usó para otra solicitud."),
                    code="idempotency_key_reused",
                    field="Idempotency-Key",
                )
            return found
    return Filing.objects.filter(draft_id=draft_id, citizen=citizen).first()


def _consent_text(version: ProcedureVersion, consent: bool) -> str | None:
    """The consent text to store, or a field error if the procedure needs it and it is missing."""
    if version.file.consent is None:
        return None
    if not consent:
        raise ValidationFailed(
            {"consent": _("Para presentar este trámite debe aceptar el tratamiento de sus datos.")}
        )
    return localize(version.file.consent)  # the text the citizen was shown


def _submit(
    actor: Any, draft_id: Any, key: str | None, channel: str, data_consent: bool
) -> FilingResult:
    draft = _locked_draft(actor, draft_id, "draft.submit")
    # The expediente is the citizen's even when an intermediary files it (assisted filing).
    citizen = draft.citizen
    existing = _existing_filing(citizen, draft.pk, key)
    if existing is not None:
        return FilingResult(existing, created=False)
    version = draft.procedure_version
    documents = list(draft.documents.all())
    cleaned, errors = validate_answers(
        version.file, draft.answers, {d.field_name for d in documents}
    )
    if errors:
        raise ValidationFailed(errors)
    filing = _create_filing(
        citizen,
        version.procedure,
        version,
        cleaned,
        documents=documents,
        draft=draft,
        key=key,
        channel=channel,
        filed_by=actor if draft.assisted_by_id else None,
        consent=draft.consent,
        consent_text=_consent_text(version, data_consent),
    )
    return FilingResult(filing, created=True)


def _create_filing(
    citizen: Any,
    procedure: Any,
    version: ProcedureVersion,
    cleaned: dict[str, Any],
    *,
    documents: list[Document],
    draft: Draft | None,
    key: str | None,
    channel: str,
    filed_by: Any = None,
    consent: Any = None,
    consent_text: str | None = None,
) -> Filing:
    """Create the expediente with its legal dates, number and audit entry (caller's transaction).

    The counter row is locked last, so concurrent filings of one agency wait on each
    other only for the end of their transactions.
    """
    agency = procedure.agency
    now = clock.now()
    calendar = agency_calendar(agency)
    received_on = calendar.reception_date(now)
    dates = legal_dates(
        calendar, received_on, version.term_days, version.approval, agency.due_soon_percent
    )
    try:
        fee = version.fee_amount(received_on.year)
    except UnknownUIT:
        raise DomainError(
            _("No se puede calcular el derecho de trámite: falta la UIT del año."),
            code="fee_unavailable",
        ) from None
    workflow = version.workflow
    filing = Filing(
        agency=agency,
        procedure_version=version,
        citizen=citizen,
        draft=draft,
        idempotency_key=key,
        channel=channel,
        answers=cleaned,
        submitted_at=now,
        unit_id=procedure.unit_id,
        status=workflow.initial,
        handled_by=workflow.state(workflow.initial).handled_by or "",
        received_on=received_on,
        term_starts_on=calendar.next_business_day(received_on),
        due_on=dates.due_on,
        due_soon_on=dates.due_soon_on,
        silence_on=dates.silence_on,
        fee=fee,
        access_code=_access_code(),
        updated_at=now,
        filed_by=filed_by,
        consent=consent,
    )
    year = now.astimezone(clock.LIMA).year
    # Assisted filing: the audit entry says who filed it for whom, under which consent.
    assisted = (
        {
            "filed_by": filed_by.username,
            "on_behalf_of": f"{citizen.document_type}:{citizen.document_number}",
            "consent": {"id": str(consent.pk), "method": consent.method},
            "service_unit": consent.unit.code,
        }
        if filed_by is not None and consent is not None
        else {}
    )
    actor = filed_by or citizen
    audit_data = {
        **assisted,
        "procedure": procedure.code,
        "version": version.number,
        "channel": channel,
        "received_on": received_on.isoformat(),
        "due_on": dates.due_on.isoformat(),
        "fee": str(fee),
        "documents": [{"field": d.field_name, "sha256": d.sha256} for d in documents],
    }
    if consent_text is not None:
        audit_data["consent_sha256"] = hashlib.sha256(consent_text.encode("utf-8")).hexdigest()
    if connection.vendor == "postgresql":
        _insert_filing_postgres(filing, year, actor, audit_data)
    else:
        filing.number = _next_number(agency.pk, agency.code, year)
        filing.save(force_insert=True)
        audit.record(
            "filing.submitted",
            "filing",
            filing.number,
            actor=actor,
            agency_code=agency.code,
            data=audit_data,
        )
    if documents:
        Document.objects.filter(pk__in=[d.pk for d in documents]).update(filing=filing)
    evidence.create_pending(filing, documents)  # fetched after commit, never in this transaction
    filing._prefetched_objects_cache = {
        "documents": documents
    }  # the response lists them; no re-query
    if consent_text is not None:
        from tambo.privacy.actions import record_consent

        record_consent(citizen, filing, consent_text)
    return filing


def file_directly(
    citizen: Any,
    procedure: Any,
    answers: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    channel: str = "api",
    data_consent: bool = False,
) -> FilingResult:
    """File in one request a procedure that needs no uploads (no draft is kept).

    A repeated ``Idempotency-Key`` returns the first expediente: the key is unique per
    citizen, so the losing insert of a concurrent repeat fails and the winner is returned.
    """
    policy.require(citizen, "draft.start")
    version = procedure.current_version
    if version is not None:
        version.procedure = procedure  # already loaded: spare the response a query
    if version is None or not procedure.is_active:
        raise Conflict(_("Este trámite no está disponible."), code="procedure_unavailable")
    if idempotency_key is not None and not (1 <= len(idempotency_key) <= 80):
        raise DomainError(
            _("La clave Idempotency-Key debe tener entre 1 y 80 caracteres."),
            code="bad_idempotency_key",
            field="Idempotency-Key",
        )
    cleaned, errors = validate_answers(version.file, answers, set())
    if errors:
        raise ValidationFailed(errors)
    consent_text = _consent_text(version, data_consent)
    try:
        with transaction.atomic():
            filing = _create_filing(
                citizen,
                procedure,
                version,
                cleaned,
                documents=[],
                draft=None,
                key=idempotency_key,
                channel=channel,
                consent_text=consent_text,
            )
    except IntegrityError:
        existing = _by_key(citizen, idempotency_key, version) if idempotency_key else None
        if existing is None:
            raise
        return FilingResult(existing, created=False)
    return FilingResult(filing, created=True)


def _by_key(citizen: Any, key: str, version: ProcedureVersion) -> Filing | None:
    existing = Filing.objects.filter(citizen=citizen, idempotency_key=key).first()
    if existing is not None and existing.procedure_version_id != version.pk:
        raise Conflict(
            _("Esta clave Idempotency-Key ya se usó para otra solicitud."),
            code="idempotency_key_reused",
            field="Idempotency-Key",
        )
    return existing


def procedure_name(filing: Filing) -> str:
    return localize(filing.procedure_version.file.name)


def add_filing_document(
    citizen: Any, number: str, field_name: str, stream: IO[bytes], filename: str
) -> Document:
    """Add or replace a document of a filed expediente while the citizen corrects an observation."""
    with _storing() as stored, transaction.atomic():
        filing = (
            Filing.objects.select_for_update(of=("self",))
            .select_related("agency")
            .filter(number=number)
            .first()
        )
        policy.require(citizen, "filing.citizen_act", filing)
        workflow = filing.procedure_version.workflow
        if not any(
            "resume_term" in t.effects for t in workflow.available(filing.status, "citizen")
        ):
            raise Conflict(
                _("Solo puede agregar documentos mientras subsana una observación."),
                code="documents_closed",
            )
        total = filing.documents.aggregate(total=Sum("size"))["total"] or 0
        document = _store_document(
            stored,
            citizen,
            filing.procedure_version.file,
            field_name,
            stream,
            filename,
            already=total,
            filing=filing,
        )
        audit.record(
            "filing.document_added",
            "filing",
            filing.number,
            actor=citizen,
            agency_code=filing.agency.code,
            data={"field": field_name, "sha256": document.sha256, "size": document.size},
        )
    return document
