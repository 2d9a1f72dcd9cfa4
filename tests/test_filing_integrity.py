"""A filing completes whole or leaves nothing; numbers are unique and gapless; repeats never duplicate."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from tambo.cases import actions
from tambo.cases.models import Document, Filing, FilingCounter
from tambo.core import audit, clock
from tambo.core.models import AuditEntry

from .conftest import answers_for, make_citizen, pdf_upload, with_file_field, without_file_field

LIMA = clock.LIMA


def filled_draft(citizen, proc, seed=1):
    draft = actions.start_draft(citizen, proc.current_version)
    actions.save_answers(citizen, draft.pk, answers_for(proc, seed))
    for field in proc.current_version.file.form:
        if field.type == "file":
            actions.attach_document(citizen, draft.pk, field.name, pdf_upload(), "doc.pdf")
    return draft


@pytest.mark.django_db
def test_a_failure_during_filing_leaves_nothing_behind(citizen, catalog, monkeypatch):
    proc = with_file_field(catalog)
    draft = filled_draft(citizen, proc)
    entries_before = AuditEntry.objects.count()
    real_record, real_statement = audit.record, audit.record_with_statement

    # The expediente, its number and its audit entry are written (in one statement on
    # PostgreSQL, three on SQLite); then the transaction fails and must undo them all.
    def failing_record(action, *args, **kwargs):
        written = real_record(action, *args, **kwargs)
        if action == "filing.submitted":
            raise RuntimeError("disk full")
        return written

    def failing_statement(*args, **kwargs):
        real_statement(*args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "record", failing_record)
    monkeypatch.setattr(audit, "record_with_statement", failing_statement)
    with pytest.raises(RuntimeError):
        actions.submit_draft(citizen, draft.pk)
    assert not Filing.objects.exists()
    assert not FilingCounter.objects.filter(last__gt=0).exists()
    assert AuditEntry.objects.count() == entries_before
    # The draft and its documents are intact, so the citizen can simply try again.
    assert Document.objects.filter(draft=draft, filing__isnull=True).count() >= 1
    monkeypatch.setattr(audit, "record", real_record)
    monkeypatch.setattr(audit, "record_with_statement", real_statement)
    result = actions.submit_draft(citizen, draft.pk)
    assert result.created
    assert result.filing.number.endswith("-0000001")


@pytest.mark.django_db
def test_numbers_are_sequential_per_agency_and_year_and_restart_each_year(citizen, catalog):
    proc = without_file_field(catalog)
    other = next(
        p
        for p in catalog
        if p.agency_id != proc.agency_id
        and not any(f.type == "file" and f.required for f in p.current_version.file.form)
    )
    code = proc.agency.code
    with clock.frozen(dt.datetime(2026, 12, 31, 23, 50, tzinfo=LIMA)):
        a = actions.file_directly(citizen, proc, answers_for(proc)).filing
        b = actions.file_directly(citizen, proc, answers_for(proc)).filing
        c = actions.file_directly(citizen, other, answers_for(other)).filing
    with clock.frozen(dt.datetime(2027, 1, 1, 0, 10, tzinfo=LIMA)):
        d = actions.file_directly(citizen, proc, answers_for(proc)).filing
    assert (a.number, b.number) == (f"{code}-2026-0000001", f"{code}-2026-0000002")
    assert c.number == f"{other.agency.code}-2026-0000001"
    assert d.number == f"{code}-2027-0000001"


@pytest.mark.django_db
def test_after_hours_and_holiday_filings_are_received_the_next_business_day(citizen, catalog):
    proc = without_file_field(catalog)
    term = proc.current_version.term_days
    # Tuesday 2026-07-28 and Wednesday 07-29 are national holidays (Fiestas Patrias).
    with clock.frozen(dt.datetime(2026, 7, 28, 10, 0, tzinfo=LIMA)):
        filing = actions.file_directly(citizen, proc, answers_for(proc)).filing
    assert filing.received_on == dt.date(2026, 7, 30)
    assert filing.term_starts_on == dt.date(2026, 7, 31)
    from tambo.catalog.queries import agency_calendar

    assert filing.due_on == agency_calendar(proc.agency).add_business_days(
        dt.date(2026, 7, 30), term
    )


@pytest.mark.django_db
def test_an_agency_cut_off_moves_late_filings_to_the_next_business_day(citizen, catalog):
    cutoff_agency = next(
        (
            p
            for p in catalog
            if p.agency.filing_cutoff is not None
            and not any(f.type == "file" and f.required for f in p.current_version.file.form)
        ),
        None,
    )
    assert cutoff_agency is not None, "the demo needs an agency with an office-hours cut-off"
    cutoff = cutoff_agency.agency.filing_cutoff
    late = dt.datetime.combine(dt.date(2026, 3, 10), cutoff, tzinfo=LIMA) + dt.timedelta(minutes=1)
    early = late - dt.timedelta(minutes=2)
    with clock.frozen(late):
        late_filing = actions.file_directly(
            citizen, cutoff_agency, answers_for(cutoff_agency)
        ).filing
    with clock.frozen(early):
        early_filing = actions.file_directly(
            citizen, cutoff_agency, answers_for(cutoff_agency)
        ).filing
    assert early_filing.received_on == dt.date(2026, 3, 10)
    assert late_filing.received_on == dt.date(2026, 3, 11)


@pytest.mark.django_db
def test_a_filed_case_keeps_the_version_it_was_filed_under(citizen, catalog, tmp_path, settings):
    import shutil

    from tambo.catalog.loader import load_directory

    proc = without_file_field(catalog)
    filing = actions.file_directly(citizen, proc, answers_for(proc)).filing
    source = tmp_path / "catalog"
    shutil.copytree(settings.TAMBO_CATALOG_DIR, source)
    path = next(
        p
        for p in source.rglob("*.yaml")
        if f"code: {proc.code}\n" in p.read_text()
        and f"agency: {proc.agency.code}\n" in p.read_text()
    )
    text = path.read_text().replace(
        f"term_days: {proc.current_version.term_days}\n",
        f"term_days: {proc.current_version.term_days + 5}\n",
    )
    path.write_text(text)
    load_directory(source)
    proc.refresh_from_db()
    filing.refresh_from_db()
    assert proc.current_version.number == 2
    assert filing.procedure_version.number == 1
    assert filing.procedure_version.term_days + 5 == proc.current_version.term_days


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs a database server shared by several connections",
)


def run_concurrently(n: int, work) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def target(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_repeats_of_one_filing_create_one_expediente(catalog):
    citizen = make_citizen("concurrente", "41111222")
    proc = without_file_field(catalog)
    draft = filled_draft(citizen, proc)
    results = run_concurrently(
        8, lambda i: actions.submit_draft(citizen, draft.pk, idempotency_key="same")
    )
    assert all(not isinstance(r, Exception) for r in results), results
    assert len({r.filing.number for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert Filing.objects.count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_filings_get_unique_gapless_numbers(catalog):
    proc = without_file_field(catalog)
    citizens = [make_citizen(f"c{i}", f"4200000{i}") for i in range(8)]
    results = run_concurrently(
        8,
        lambda i: actions.file_directly(citizens[i], proc, answers_for(proc, i)).filing.number,
    )
    assert all(isinstance(r, str) for r in results), results
    sequence = sorted(int(r.rsplit("-", 1)[1]) for r in results)
    assert sequence == list(range(1, 9))
    assert Filing.objects.count() == 8
    assert audit.verify_chain().ok


@pytest.mark.django_db
def test_an_upload_that_fails_after_storing_its_file_leaves_no_file_behind(
    citizen, catalog, monkeypatch, settings
):
    proc = with_file_field(catalog)
    field = next(f for f in proc.current_version.file.form if f.type == "file")
    draft = actions.start_draft(citizen, proc.current_version)

    def stored_files() -> set[str]:
        return {str(p) for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()}

    before = stored_files()
    real_record = audit.record

    def failing_record(action, *args, **kwargs):
        if action == "draft.document_added":
            raise RuntimeError("database went away")
        return real_record(action, *args, **kwargs)

    monkeypatch.setattr(audit, "record", failing_record)
    with pytest.raises(RuntimeError):
        actions.attach_document(citizen, draft.pk, field.name, pdf_upload(), "plano.pdf")
    assert stored_files() == before
    assert not Document.objects.filter(draft=draft).exists()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_locked_draft_leaves_its_agency_row_free_for_other_filings(catalog):
    """A filing being submitted locks its draft only. If it also locked the joined agency row,
    another filing's deferred foreign-key check on that agency (at its COMMIT, while holding
    the agency's number counter) would deadlock with it: 503s under the load mix."""
    from django.db import transaction

    citizen = make_citizen("bloqueo", "41222333")
    proc = without_file_field(catalog)
    draft = filled_draft(citizen, proc)
    agency_id = proc.agency_id
    with transaction.atomic():
        actions._locked_draft(citizen, draft.pk, "draft.submit")

        def key_share_agency(_: int) -> str:
            # What PostgreSQL's foreign-key check does; NOWAIT: blocked = refused at once.
            with connections["default"].cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM catalog_agency WHERE id = %s FOR KEY SHARE NOWAIT", [agency_id]
                )
                return "free"

        assert run_concurrently(1, key_share_agency) == ["free"]
