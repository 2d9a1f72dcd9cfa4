"""Issue 6, part 5 (follow-up): a failed SMS is retried by the task worker with backoff, a
permanent failure is recorded and shown, and no SMS is ever sent twice."""

from __future__ import annotations

import datetime as dt
import io
from typing import ClassVar

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django_tasks_db.models import DBTaskResult

from tambo.cases import actions, transitions
from tambo.core import clock
from tambo.core.models import AuditEntry
from tambo.identity import actions as identity_actions
from tambo.inbox.models import Notice, OutgoingSms
from tambo.inbox.outbox import deliver, queue_sms
from tambo.inbox.sms import SmsError
from tambo.inbox.tasks import send_sms_task

from .conftest import answers_for, login_official, make_official, procedure, without_file_field

pytestmark = pytest.mark.django_db
FLAKY = "tests.test_sms_outbox.FlakySender"


class FlakySender:
    """Fails ``failures`` times (retryable unless ``permanent``), then records what it sends."""

    failures = 0
    permanent = False
    calls: ClassVar[list[tuple[str, str]]] = []
    sent: ClassVar[list[tuple[str, str]]] = []

    def send(self, to: str, text: str) -> None:
        FlakySender.calls.append((to, text))
        if FlakySender.failures > 0:
            FlakySender.failures -= 1
            raise SmsError("gateway time-out", retry=not FlakySender.permanent)
        FlakySender.sent.append((to, text))


@pytest.fixture
def flaky(settings):
    settings.TAMBO_SMS_BACKEND = FLAKY
    FlakySender.failures, FlakySender.permanent = 0, False
    FlakySender.calls, FlakySender.sent = [], []
    return FlakySender


def run_worker() -> None:
    call_command(
        "db_worker", "--batch", "--no-startup-delay", "--max-tasks", "1", stdout=io.StringIO()
    )


def queued_retries() -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(task_path=send_sms_task.module_path, status="READY").order_by(
            "run_after"
        )
    )


def observed_notice(citizen, django_capture_on_commit_callbacks) -> Notice:
    """A citizen without e-mail gets the SMS copy of an observation."""
    citizen.email = ""
    citizen.save()
    identity_actions.set_phone(citizen, "987654321")
    proc = procedure("ACCESO-INFORMACION", "MDSI")
    filing = actions.file_directly(citizen, proc, answers_for(proc)).filing
    desk = make_official("mesa", "MDSI", ["front_desk"])
    with django_capture_on_commit_callbacks(execute=True):
        transitions.take(
            desk, filing.number, "observe", transitions.TransitionInput(reason="Falta.")
        )
    return Notice.objects.get(filing=filing)


# The worker runs outside any test transaction, as in production (PostgreSQL closes a
# connection left inside one).
@pytest.mark.django_db(transaction=True)
def test_a_retryable_failure_is_retried_with_backoff_by_the_worker(
    citizen, catalog, flaky, settings, django_capture_on_commit_callbacks
):
    flaky.failures = 2
    moment = clock.now()
    with clock.frozen(moment):
        notice = observed_notice(citizen, django_capture_on_commit_callbacks)
    sms = OutgoingSms.objects.get(once_key=f"notice:{notice.pk}")
    assert (sms.status, sms.attempts, sms.last_error) == ("pending", 1, "gateway time-out")
    assert sms.next_attempt_at == moment + dt.timedelta(seconds=30)
    [retry] = queued_retries()
    assert retry.run_after == moment + dt.timedelta(seconds=30)
    assert retry.args_kwargs["args"] == [sms.pk]
    assert notice.texted_at is None

    # The worker's second attempt fails too: the next wait doubles.
    retry.run_after = clock.now()
    retry.save(update_fields=["run_after"])
    with clock.frozen(moment + dt.timedelta(seconds=31)):
        run_worker()
    sms.refresh_from_db()
    assert (sms.status, sms.attempts) == ("pending", 2)
    assert sms.next_attempt_at == moment + dt.timedelta(seconds=31 + 60)
    [retry] = queued_retries()
    retry.run_after = clock.now()
    retry.save(update_fields=["run_after"])
    run_worker()
    sms.refresh_from_db()
    notice.refresh_from_db()
    assert (sms.status, sms.attempts) == ("sent", 3) and sms.sent_at is not None
    assert notice.texted_at == sms.sent_at
    assert len(flaky.sent) == 1 and len(flaky.calls) == 3
    assert queued_retries() == []


# The worker runs outside any test transaction, as in production (PostgreSQL closes a
# connection left inside one).
@pytest.mark.django_db(transaction=True)
def test_retries_stop_after_the_configured_attempts_and_the_failure_is_recorded(
    citizen, catalog, flaky, settings, django_capture_on_commit_callbacks
):
    settings.TAMBO_SMS_MAX_ATTEMPTS = 3
    settings.TAMBO_SMS_RETRY_BASE_SECONDS = 0
    flaky.failures = 99
    notice = observed_notice(citizen, django_capture_on_commit_callbacks)
    for _ in range(5):
        run_worker()
    sms = OutgoingSms.objects.get(once_key=f"notice:{notice.pk}")
    assert (sms.status, sms.attempts) == ("failed", 3)
    assert len(flaky.calls) == 3 and flaky.sent == []
    entry = AuditEntry.objects.get(action="sms.failed")
    assert entry.data["attempts"] == 3 and entry.data["purpose"] == "notice"
    assert "+51" not in str(entry.data)  # the audit log does not keep the number


def test_a_permanent_failure_is_not_retried_and_admins_see_it(
    citizen, catalog, flaky, admin_client, django_capture_on_commit_callbacks
):
    flaky.failures, flaky.permanent = 1, True
    notice = observed_notice(citizen, django_capture_on_commit_callbacks)
    sms = OutgoingSms.objects.get(once_key=f"notice:{notice.pk}")
    assert (sms.status, sms.attempts) == ("failed", 1) and queued_retries() == []
    assert AuditEntry.objects.filter(action="sms.failed").count() == 1
    listing = admin_client.get("/admin/inbox/outgoingsms/?status__exact=failed")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert f"notice:{notice.pk}" in page and "gateway time-out" in page
    assert "+51987654321" not in page


def test_the_same_sms_is_never_sent_twice(flaky):
    with transaction.atomic():
        first = queue_sms("+51987654321", "hola", once_key="notice:test", purpose="notice")
        again = queue_sms("+51987654321", "hola", once_key="notice:test", purpose="notice")
    assert first.pk == again.pk and OutgoingSms.objects.count() == 1
    assert deliver(first.pk) == "sent"
    assert deliver(first.pk) == "sent"  # a repeated task finds it sent
    # A row another worker has claimed is left alone.
    with transaction.atomic():
        busy = queue_sms("+51987654322", "hola", once_key="notice:busy", purpose="notice")
    OutgoingSms.objects.filter(pk=busy.pk).update(status="sending")
    assert deliver(busy.pk) == "sending"
    assert flaky.calls == [("+51987654321", "hola")]


def test_a_code_is_not_sent_after_it_expired_and_its_text_is_wiped(flaky):
    moment = clock.now()
    with transaction.atomic():
        sms = queue_sms(
            "+51987654321",
            "código 123456",
            once_key="consent:x",
            purpose="consent_code",
            secret=True,
            expires_at=moment + dt.timedelta(minutes=10),
        )
    with clock.frozen(moment + dt.timedelta(minutes=11)):
        assert deliver(sms.pk) == "expired"
    sms.refresh_from_db()
    assert sms.text == "" and flaky.calls == []


def test_the_intermediary_is_told_when_the_consent_code_could_not_be_sent(
    citizen, catalog, flaky, django_capture_on_commit_callbacks
):
    identity_actions.set_phone(citizen, "987654321")
    flaky.failures, flaky.permanent = 1, True
    intermediary = make_official("tambo_ana", "MDSI", ["intermediary"], ["MP"])
    helper = login_official(Client(), intermediary)
    proc = without_file_field(catalog)
    with django_capture_on_commit_callbacks(execute=True):
        started = helper.post(
            f"/asistido/{proc.agency.code}/{proc.code}/",
            {"document_type": "dni", "document_number": citizen.document_number, "method": "sms"},
        )
    page = helper.get(started["Location"]).content.decode()
    assert "No se pudo enviar el SMS con el código." in page
    sms = OutgoingSms.objects.get(purpose="consent_code")
    assert sms.status == "failed" and sms.text == ""  # the code is not kept in the outbox


def test_officials_see_on_the_case_page_which_sms_alerts_failed(
    citizen, catalog, settings, django_capture_on_commit_callbacks
):
    """A gateway that refuses the number: the case page says so, without the number."""
    settings.TAMBO_SMS_BACKEND = "tests.test_sms_outbox.RefusingSender"
    notice = observed_notice(citizen, django_capture_on_commit_callbacks)
    sms = OutgoingSms.objects.get(once_key=f"notice:{notice.pk}")
    assert sms.status == "failed" and "987654321" not in sms.last_error
    entry = AuditEntry.objects.get(action="sms.failed")
    assert "987654321" not in str(entry.data)
    from tambo.identity.models import User

    desk = login_official(Client(), User.objects.get(username="mesa"))
    page = desk.get(f"/oficina/expedientes/{notice.filing.number}/").content.decode()
    assert "Avisos por SMS no enviados" in page and notice.title in page
    assert "987654321" not in page


class RefusingSender:
    def send(self, to: str, text: str) -> None:
        raise SmsError(f"number {to} refused by the gateway", retry=False)
