"""Officials handle expedientes through the workflow, within terms; the sweep applies silence."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from tambo.cases import actions, sweep, transitions
from tambo.cases.models import Filing
from tambo.catalog.queries import agency_calendar
from tambo.core import audit, clock
from tambo.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tambo.core.models import AuditEntry
from tambo.documents.models import IssuedDocument
from tambo.inbox.models import Notice, OfficialAlert

from .conftest import answers_for, make_official, pdf_upload, procedure

LIMA = clock.LIMA
T = transitions.TransitionInput
pytestmark = pytest.mark.django_db


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=LIMA)


def file_case(citizen, proc, when: str = "2026-03-02"):
    with clock.frozen(at(when)):
        draft = actions.start_draft(citizen, proc.current_version)
        actions.save_answers(citizen, draft.pk, answers_for(proc))
        for field in proc.current_version.file.form:
            if field.type == "file":
                actions.attach_document(citizen, draft.pk, field.name, pdf_upload(), "doc.pdf")
        return actions.submit_draft(citizen, draft.pk).filing


@pytest.fixture
def staff(catalog):
    return {
        "desk": make_official("mesa", "MDSI", ["front_desk"], ["MP"]),
        "evaluator": make_official("eva", "MDSI", ["evaluator"]),
        "signer": make_official("firma", "MDSI", ["signer"]),
        "supervisor": make_official("super", "MDSI", ["supervisor"]),
        "outsider": make_official(
            "ajeno", "MTC", ["front_desk", "evaluator", "signer", "supervisor"]
        ),
    }


@pytest.fixture
def licence(catalog):
    return procedure("LF-RIESGO-BAJO", "MDSI")


def take(user, filing, tid, when="2026-03-03", **given):
    with clock.frozen(at(when)):
        return transitions.take(user, filing.number, tid, T(**given))


def test_received_admitted_evaluated_and_approved_with_a_signed_resolution_in_the_casilla(
    citizen, staff, licence, django_capture_on_commit_callbacks
):
    filing = file_case(citizen, licence)
    assert (filing.status, filing.handled_by) == ("received", "front_desk")
    take(staff["desk"], filing, "admit")
    take(staff["evaluator"], filing, "propose", report="Cumple todo.")
    with django_capture_on_commit_callbacks(execute=True):
        filing = take(staff["signer"], filing, "approve", reason="Cumple los requisitos.")
    assert filing.status == "approved"
    assert not filing.term_running
    document = IssuedDocument.objects.get(subject_id=filing.number, kind="resolution")
    notice = Notice.objects.get(filing=filing)
    assert notice.document_code == document.code
    assert notice.effective_on == dt.date(2026, 3, 3)
    assert len(mail.outbox) == 1
    assert filing.number in mail.outbox[0].body and "/casilla/" in mail.outbox[0].body
    assert mail.outbox[0].to == [citizen.email]
    transitions_taken = [
        e.data["transition"] for e in AuditEntry.objects.filter(action="filing.transition")
    ]
    assert transitions_taken == ["admit", "propose", "approve"]
    filing = take(staff["supervisor"], filing, "close")
    assert filing.status == "closed" and not filing.is_open


def test_an_observation_suspends_the_term_and_the_correction_moves_the_deadline(
    citizen, staff, licence
):
    # Filed Friday 2026-07-24; 27 Jul is a business day, 28-29 Jul are national holidays.
    filing = file_case(citizen, licence, "2026-07-24")
    calendar = agency_calendar(filing.agency)
    assert filing.received_on == dt.date(2026, 7, 24)
    assert filing.due_on == calendar.add_business_days(
        dt.date(2026, 7, 24), licence.current_version.term_days
    )
    original_due = filing.due_on
    filing = take(
        staff["desk"], filing, "observe", when="2026-07-27", reason="Falta la declaración jurada."
    )
    assert filing.status == "observed" and not filing.term_running
    assert filing.suspended_since == dt.date(2026, 7, 27)
    # Two business days to correct: 30 and 31 July (28-29 are holidays).
    assert filing.correction_due_on == dt.date(2026, 7, 31)
    notice = Notice.objects.get(filing=filing, kind="observe")
    assert "Falta la declaración jurada" in notice.body
    with clock.frozen(at("2026-07-31")):
        actions.add_filing_document(
            citizen,
            filing.number,
            next(f.name for f in licence.current_version.file.form if f.type == "file"),
            pdf_upload(),
            "nuevo.pdf",
        )
    filing = take(citizen, filing, "correct", when="2026-07-31", reason="Adjunto la declaración.")
    assert filing.status == "received" and filing.term_running
    # Suspended for the business days in (27 Jul, 31 Jul]: 30 and 31 Jul.
    assert filing.due_on == calendar.add_business_days(original_due, 2)


def test_an_observation_not_corrected_in_time_makes_the_filing_not_filed(citizen, staff, licence):
    filing = file_case(citizen, licence, "2026-03-02")
    filing = take(staff["desk"], filing, "observe", when="2026-03-03", reason="Falta el plano.")
    assert filing.correction_due_on == dt.date(2026, 3, 5)
    with clock.frozen(at("2026-03-05", 18)):
        report = sweep.run()
    assert "not_corrected" not in report.counts
    with clock.frozen(at("2026-03-06")):
        report = sweep.run()
    filing.refresh_from_db()
    assert report.counts["not_corrected"] == 1
    assert filing.status == "not_filed" and not filing.is_open
    assert Notice.objects.filter(filing=filing, kind="not_corrected").count() == 1


def test_report_denial_appeal_and_appeal_outcomes(citizen, staff, licence):
    filing = file_case(citizen, licence)
    take(staff["desk"], filing, "admit")
    take(staff["evaluator"], filing, "request_report", reason="Opinión de Defensa Civil.")
    with pytest.raises(ValidationFailed):
        take(staff["evaluator"], filing, "receive_report")
    take(staff["evaluator"], filing, "receive_report", report="Sin observaciones.")
    take(staff["evaluator"], filing, "propose", report="Procede denegar.")
    filing = take(staff["signer"], filing, "deny", reason="Zonificación incompatible.")
    assert filing.status == "denied"
    assert filing.appeal_due_on == agency_calendar(filing.agency).add_business_days(
        dt.date(2026, 3, 3), 15
    )
    take(citizen, filing, "appeal", reason="La zonificación sí lo permite.")
    filing = take(staff["signer"], filing, "uphold_appeal", reason="Revisado: procede.")
    assert filing.status == "approved"
    assert IssuedDocument.objects.filter(subject_id=filing.number, kind="resolution").count() == 2


def test_an_appeal_after_its_term_is_refused(citizen, staff, licence):
    filing = file_case(citizen, licence)
    take(staff["desk"], filing, "admit")
    take(staff["evaluator"], filing, "propose", report="x")
    filing = take(staff["signer"], filing, "deny", reason="No procede.")
    late = filing.appeal_due_on + dt.timedelta(days=1)
    with pytest.raises(Conflict) as info:
        take(citizen, filing, "appeal", when=late.isoformat(), reason="tarde")
    assert info.value.code == "appeal_term_expired"


def test_the_citizen_withdraws(citizen, staff, licence):
    filing = file_case(citizen, licence)
    filing = take(citizen, filing, "withdraw", reason="Ya no lo necesito.")
    assert filing.status == "withdrawn" and not filing.is_open


def test_transitions_not_allowed_in_the_state_get_409_and_wrong_roles_get_403(
    citizen, other_citizen, staff, licence
):
    filing = file_case(citizen, licence)
    with pytest.raises(Conflict) as info:
        take(staff["signer"], filing, "approve", reason="x")
    assert info.value.code == "transition_not_allowed"
    workflow = licence.current_version.workflow
    roles = {
        "desk": "front_desk",
        "evaluator": "evaluator",
        "signer": "signer",
        "supervisor": "supervisor",
    }
    for transition in workflow.available("received"):
        if "system" in transition.by:
            continue
        for key, role in roles.items():
            if role in transition.by:
                continue
            with pytest.raises(Forbidden):
                take(staff[key], filing, transition.id, reason="x", report="x")
    with pytest.raises(NotFound):
        take(staff["outsider"], filing, "admit")
    with pytest.raises(NotFound):
        take(other_citizen, filing, "withdraw", reason="x")
    with pytest.raises(Forbidden):
        take(citizen, filing, "admit")
    filing.refresh_from_db()
    assert filing.status == "received" and filing.lock_version == 0


def test_a_stale_version_is_refused(citizen, staff, licence):
    filing = file_case(citizen, licence)
    take(staff["desk"], filing, "admit", expected_version=0)
    with pytest.raises(Conflict) as info:
        take(staff["evaluator"], filing, "propose", report="x", expected_version=0)
    assert info.value.code == "stale_version"


def test_a_failure_while_signing_leaves_the_expediente_unchanged(
    citizen, staff, licence, monkeypatch
):
    from tambo.documents import actions as document_actions
    from tambo.documents.errors import DocumentFailed

    filing = file_case(citizen, licence)
    take(staff["desk"], filing, "admit")
    take(staff["evaluator"], filing, "propose", report="ok")
    before = Filing.objects.get(pk=filing.pk)

    def broken(**kwargs):
        raise DocumentFailed("El servicio de firma no responde.")

    monkeypatch.setattr(document_actions, "issue_pdf", broken)
    with pytest.raises(DocumentFailed):
        take(staff["signer"], filing, "approve", reason="ok")
    after = Filing.objects.get(pk=filing.pk)
    assert (after.status, after.lock_version, after.term_running) == (
        before.status,
        before.lock_version,
        before.term_running,
    )
    assert not Notice.objects.filter(filing=filing).exists()
    assert not IssuedDocument.objects.filter(subject_id=filing.number).exists()


def test_positive_silence_applies_on_the_exact_day_once(citizen, catalog):
    proc = procedure("LF-RIESGO-BAJO", "MDSI")
    filing = file_case(citizen, proc, "2026-03-02")
    calendar = agency_calendar(filing.agency)
    silence_day = calendar.add_business_days(filing.due_on, 6)
    assert filing.silence_on == silence_day
    day_before = silence_day - dt.timedelta(days=1)
    with clock.frozen(at(day_before.isoformat())):
        report = sweep.run()
    filing.refresh_from_db()
    assert filing.status == "received"
    assert "silence_approve" not in report.counts
    with clock.frozen(at(silence_day.isoformat())):
        report = sweep.run()
        issued = sweep.issue_pending_documents()
    filing.refresh_from_db()
    assert report.counts["silence_approve"] == 1
    assert filing.status == "approved_by_silence"
    assert issued == 1
    certificate = IssuedDocument.objects.get(subject_id=filing.number, kind="silence_certificate")
    notice = Notice.objects.get(filing=filing, kind="silence_approve")
    assert notice.document_code == certificate.code
    entries = AuditEntry.objects.count()
    with clock.frozen(at(silence_day.isoformat(), 15)):
        again = sweep.run()
        assert sweep.issue_pending_documents() == 0
    assert again.total == 0
    assert Notice.objects.filter(filing=filing).count() == 1
    assert AuditEntry.objects.count() == entries


def test_negative_silence_tells_the_citizen_once_and_keeps_the_duty_to_decide(citizen, catalog):
    proc = procedure("ACCESO-INFORMACION", "MDSI")
    assert proc.current_version.approval == "negative_silence"
    filing = file_case(citizen, proc, "2026-03-02")
    with clock.frozen(at((filing.silence_on - dt.timedelta(days=1)).isoformat())):
        assert "negative_silence" not in sweep.run().counts
    with clock.frozen(at(filing.silence_on.isoformat())):
        assert sweep.run().counts["negative_silence"] == 1
        assert sweep.run().total == 0
    filing.refresh_from_db()
    assert filing.status == "received" and filing.is_open
    assert Notice.objects.filter(filing=filing, kind="negative_silence").count() == 1


def test_officials_are_warned_once_when_due_soon_and_once_when_overdue(citizen, staff, licence):
    filing = file_case(citizen, licence, "2026-03-02")
    take(staff["desk"], filing, "admit")
    filing.refresh_from_db()
    with clock.frozen(at(filing.due_soon_on.isoformat())):
        first = sweep.run()
        second = sweep.run()
    assert first.counts.get("due_soon") == 1 and second.total == 0
    overdue_day = filing.due_on + dt.timedelta(days=1)
    with clock.frozen(at(overdue_day.isoformat())):
        assert sweep.run().counts.get("overdue") == 1
        assert sweep.run().total == 0
    kinds = sorted(OfficialAlert.objects.filter(filing=filing).values_list("kind", flat=True))
    assert kinds == ["due_soon", "overdue"]


def test_automatic_approval_is_applied_on_receipt(citizen, catalog):
    proc = next(p for p in catalog if p.current_version.approval == "automatic")
    filing = file_case(citizen, proc, "2026-03-02")
    with clock.frozen(at("2026-03-02", 12)):
        report = sweep.run()
        sweep.issue_pending_documents()
    filing.refresh_from_db()
    assert report.counts["auto_approve"] == 1
    assert filing.status == "approved"
    assert IssuedDocument.objects.filter(subject_id=filing.number).exists()


def test_take_and_assign(citizen, staff, licence):
    filing = file_case(citizen, licence)
    transitions.take_case(staff["desk"], filing.number)
    filing.refresh_from_db()
    assert filing.assignee == staff["desk"]
    with pytest.raises(ValidationFailed):
        transitions.assign(staff["supervisor"], filing.number, staff["evaluator"], "")
    with pytest.raises(Forbidden):
        transitions.assign(staff["evaluator"], filing.number, staff["evaluator"], "porque sí")
    with pytest.raises(ValidationFailed):
        transitions.assign(staff["supervisor"], filing.number, staff["outsider"], "otra entidad")
    transitions.assign(staff["supervisor"], filing.number, staff["evaluator"], "Carga de trabajo")
    filing.refresh_from_db()
    assert filing.assignee == staff["evaluator"]
    entry = AuditEntry.objects.filter(action="filing.assigned").get()
    assert entry.data["reason"] == "Carga de trabajo"
    assert audit.verify_chain().ok


def test_a_rejected_appeal_ends_in_a_signed_rejection(citizen, staff, licence):
    filing = file_case(citizen, licence)
    take(staff["desk"], filing, "admit")
    take(staff["evaluator"], filing, "propose", report="x")
    take(staff["signer"], filing, "deny", reason="No procede.")
    take(citizen, filing, "appeal", reason="Pido reconsideración.")
    filing = take(staff["signer"], filing, "reject_appeal", reason="Se confirma.")
    assert filing.status == "appeal_rejected"
    assert Notice.objects.filter(filing=filing, kind="reject_appeal").get().document_code


def test_a_notice_takes_effect_after_the_agencys_acknowledgement_days(citizen, staff, licence):
    agency = licence.agency
    agency.notice_ack_days = 5
    agency.save()
    filing = file_case(citizen, licence, "2026-07-20")
    take(staff["desk"], filing, "observe", when="2026-07-24", reason="Falta un plano.")
    notice = Notice.objects.get(filing=filing)
    # Five business days after Friday 24 July: 27, 30, 31 July, 3, 4 August (28-29 are holidays).
    assert notice.effective_on == dt.date(2026, 8, 4)


postgres_only = pytest.mark.skipif(
    __import__("django.db").db.connection.vendor != "postgresql",
    reason="needs a database server shared by several connections",
)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_officials_deciding_at_once_cannot_both_succeed(catalog):
    from .conftest import make_citizen
    from .test_filing_integrity import run_concurrently

    citizen = make_citizen("simultaneo", "45556667")
    desk = make_official("mesa2", "MDSI", ["front_desk"], ["MP"])
    evaluator = make_official("eva2", "MDSI", ["evaluator"])
    signers = [make_official(f"firma{i}", "MDSI", ["signer"]) for i in range(2)]
    filing = file_case(citizen, procedure("LF-RIESGO-BAJO", "MDSI"))
    take(desk, filing, "admit")
    take(evaluator, filing, "propose", report="x")
    decisions = ["approve", "deny"]
    # The clock is frozen once, here: clock.frozen() is process-wide and not for threads.
    with clock.frozen(at("2026-03-04")):
        results = run_concurrently(
            2,
            lambda i: transitions.take(
                signers[i], filing.number, decisions[i], T(reason="decisión")
            ),
        )
    successes = [r for r in results if isinstance(r, Filing)]
    failures = [r for r in results if isinstance(r, Exception)]
    assert len(successes) == 1 and len(failures) == 1, results
    assert isinstance(failures[0], Conflict)
    filing.refresh_from_db()
    assert filing.status == successes[0].status
    assert Notice.objects.filter(filing=filing).count() == 1
    assert IssuedDocument.objects.filter(subject_id=filing.number, kind="resolution").count() == 1
