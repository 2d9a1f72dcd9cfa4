"""The e-mail and SMS copies of casilla notices, sent in batches (issue 2, the sweep).

The sweep queues one copies task per batch, in the batch's own transaction; the task claims
the unsent copies of a chunk with one query, sends the e-mails over one connection, and
releases those that failed. Each copy goes out at most once.
"""

from __future__ import annotations

import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend
from django.test import override_settings
from django_tasks_db.models import DBTaskResult

from tambo.cases import actions, sweep
from tambo.core import clock
from tambo.identity.models import User
from tambo.inbox import actions as inbox
from tambo.inbox.models import Notice
from tambo.inbox.sms import FileSender
from tambo.inbox.tasks import send_notice_copies_task

from .conftest import answers_for, procedure

pytestmark = pytest.mark.django_db


class CountingBackend(EmailBackend):
    """locmem, counting the connections opened; refuses addresses containing "rechaza"."""

    opened = 0

    def open(self):
        CountingBackend.opened += 1
        return super().open()

    def send_messages(self, messages):
        if any("rechaza" in address for m in messages for address in m.to):
            raise smtplib.SMTPRecipientsRefused({m.to[0]: (550, b"no") for m in messages})
        return super().send_messages(messages)


class DownBackend(BaseEmailBackend):
    """A mail server nobody can reach."""

    def open(self):
        raise ConnectionRefusedError("mail server down")

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")


def run_queued_copies() -> int:
    """What `tambo db_worker` does with the queued copies tasks (run here in the test's own
    transaction: the worker command would close the test's connection on PostgreSQL)."""
    queued = DBTaskResult.objects.filter(
        task_path=send_notice_copies_task.module_path, status="READY"
    )
    for row in queued:
        send_notice_copies_task.call(*row.args_kwargs["args"], **row.args_kwargs["kwargs"])
        DBTaskResult.objects.filter(pk=row.pk).update(status="SUCCESSFUL")
    return len(queued)


@pytest.fixture
def sms(tmp_path):
    path = tmp_path / "sms.jsonl"
    with override_settings(TAMBO_SMS_FILE=path, TAMBO_SMS_BACKEND="tambo.inbox.sms.FileSender"):
        yield FileSender(path)


@pytest.fixture
def notices(catalog, citizen):
    """Ten notices of one expediente, to ten people: seven by e-mail (two of them refused by
    the mail server), three by SMS only."""
    proc = procedure("ACCESO-INFORMACION", "MDSI")
    filing = actions.file_directly(citizen, proc, answers_for(proc)).filing
    made = []
    for i in range(10):
        email = "" if i >= 7 else f"persona{i}{'-rechaza' if i in (2, 5) else ''}@example.pe"
        person = User.objects.create(
            username=f"persona{i}", email=email, phone=f"+51987000{i:03d}", language="es"
        )
        made.append(
            Notice.objects.create(
                citizen=person,
                filing=filing,
                agency=filing.agency,
                kind="test",
                title=f"Aviso {i}",
                body="",
                deposited_at=clock.now(),
                effective_on=clock.now().date(),
            ).pk
        )
    return made


@override_settings(EMAIL_BACKEND="tests.test_notice_copies.CountingBackend")
def test_a_batch_is_sent_with_few_queries_one_connection_and_at_most_once(
    notices, sms, django_assert_max_num_queries
):
    CountingBackend.opened = 0
    # E-mail: one claim (savepoint, SELECT ... FOR UPDATE, UPDATE, release) and one release
    # UPDATE, a fixed number whatever the count of notices. SMS: one SELECT and one INSERT
    # into the outbox, a SELECT of the new rows, then per SMS (one gateway call each anyway)
    # the outbox's claim, read, result and texted_at: 3 SMS here.
    with django_assert_max_num_queries(5 + 3 + 4 * 3):
        report = inbox.send_copies_batch(notices)
    assert (report.emailed, report.texted, report.failed) == (5, 3, 2)
    assert CountingBackend.opened == 1
    assert sorted(m.to[0] for m in mail.outbox) == [
        f"persona{i}@example.pe" for i in (0, 1, 3, 4, 6)
    ]
    assert len(sms.sent()) == 3
    emailed = set(Notice.objects.filter(emailed_at__isnull=False).values_list("title", flat=True))
    assert emailed == {f"Aviso {i}" for i in (0, 1, 3, 4, 6)}  # the refused two are released
    assert Notice.objects.filter(texted_at__isnull=False).count() == 3

    # Again (a duplicate task, or a retry): nothing is sent twice; the refused are tried again.
    again = inbox.send_copies_batch(notices)
    assert (again.emailed, again.texted, again.failed) == (0, 0, 2)
    assert len(mail.outbox) == 5 and len(sms.sent()) == 3


@override_settings(EMAIL_BACKEND="tests.test_notice_copies.DownBackend")
def test_a_mail_server_that_is_down_releases_every_e_mail_and_the_sms_still_go(notices, sms):
    report = inbox.send_copies_batch(notices)
    assert (report.emailed, report.texted, report.failed) == (0, 3, 7)
    assert not Notice.objects.filter(emailed_at__isnull=False).exists()
    assert len(sms.sent()) == 3
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        assert inbox.send_copies_batch(notices).emailed == 7  # the server is back
    assert len(mail.outbox) == 7


def test_a_copy_claimed_by_a_run_that_crashed_is_not_sent_again(notices, sms):
    inbox._claim(notices[:4], "emailed_at", inbox.Q(citizen__email__gt=""))  # then the crash
    report = inbox.send_copies_batch(notices)
    assert report.emailed == 3  # persona4, 5 (refused by no one here), 6
    assert sorted(m.to[0] for m in mail.outbox) == [
        "persona4@example.pe",
        "persona5-rechaza@example.pe",
        "persona6@example.pe",
    ]


def test_the_sweep_queues_one_copies_task_per_batch_and_the_worker_sends_them(
    settings, catalog, citizen, sms, django_capture_on_commit_callbacks
):
    settings.TAMBO_SWEEP_BATCH = 2
    proc = procedure("ACCESO-INFORMACION", "MDSI")
    with clock.frozen(clock.now().replace(year=2026, month=3, day=2, hour=15)):
        filings = [
            actions.file_directly(citizen, proc, answers_for(proc, seed=i)).filing for i in range(5)
        ]
    day = max(f.silence_on for f in filings)
    with (
        clock.frozen(clock.now().replace(year=day.year, month=day.month, day=day.day, hour=15)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert sweep.run().counts["negative_silence"] == 5
    queued = DBTaskResult.objects.filter(
        task_path=send_notice_copies_task.module_path, status="READY"
    )
    assert sorted(len(t.args_kwargs["args"][1]) for t in queued) == [1, 2, 2]
    assert mail.outbox == []  # the sweep itself sends nothing

    run_queued_copies()
    assert [m.to for m in mail.outbox] == [[citizen.email]] * 5
    assert Notice.objects.filter(kind="negative_silence", emailed_at__isnull=True).count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep.run().total == 0
    assert run_queued_copies() == 0  # a sweep with nothing to do queues no copies
    assert len(mail.outbox) == 5
