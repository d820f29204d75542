"""Email leaves through a Celery task, over SMTP, once, with retries when the server is down."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.mail import EmailMultiAlternatives
from django.db import transaction

from accounts import services
from accounts.models import OutboundEmail
from accounts.tasks import MAX_RETRIES, is_transient, retry_countdown, send_email


def queue(to: str = "ada@example.com") -> OutboundEmail:
    message = EmailMultiAlternatives("Hello", "plain body", "Gatehouse <no-reply@gh.test>", [to])
    message.attach_alternative("<p>html body</p>", "text/html")
    return services.queue_email(template="test/hello", message=message)


@pytest.fixture
def smtp_settings(settings, smtp_server):
    port, inbox = smtp_server
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    return inbox


def test_queued_email_reaches_a_real_smtp_server_with_text_and_html(smtp_settings):
    outbound = queue()

    outbound.refresh_from_db()
    assert outbound.status == OutboundEmail.Status.SENT
    [received] = smtp_settings.messages
    assert received["To"] == "ada@example.com"
    assert received["Subject"] == "Hello"
    assert received.get_body(("plain",)).get_content().strip() == "plain body"
    assert received.get_body(("html",)).get_content().strip() == "<p>html body</p>"


def test_sending_twice_delivers_once(smtp_settings):
    outbound = queue()

    assert send_email.apply(args=[str(outbound.pk)]).get() == "skipped"
    assert len(smtp_settings.messages) == 1


def test_nothing_is_sent_when_the_transaction_rolls_back(smtp_settings):
    def request_failing_after_queueing() -> None:
        with transaction.atomic():
            queue()
            raise RuntimeError("the request failed after asking for an email")

    with pytest.raises(RuntimeError):
        request_failing_after_queueing()

    assert OutboundEmail.objects.count() == 0
    assert smtp_settings.messages == []


def test_unreachable_server_leaves_email_queued_for_retry_then_failed(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = 1  # nothing listens there
    settings.EMAIL_USE_TLS = False

    outbound = queue()  # the first attempt fails; Celery schedules a retry with backoff

    outbound.refresh_from_db()
    assert outbound.status == OutboundEmail.Status.QUEUED
    assert outbound.attempts == 1
    assert "ConnectionRefused" in outbound.last_error
    assert outbound.text_body == "plain body", "kept so that the retry can send it"

    # The last retry Celery allows gives up, says so, and erases the body with its link.
    assert send_email.apply(args=[str(outbound.pk)], retries=MAX_RETRIES).get() == "failed"
    outbound.refresh_from_db()
    assert outbound.status == OutboundEmail.Status.FAILED
    assert outbound.attempts == 2
    assert outbound.text_body == ""
    assert outbound.html_body == ""


def test_refused_message_fails_at_once_and_is_not_retried(smtp_settings):
    inbox = smtp_settings
    outbound = queue(to="nobody@refused.test")  # the server answers 550 for this mailbox

    outbound.refresh_from_db()
    assert outbound.status == OutboundEmail.Status.FAILED
    assert outbound.attempts == 1
    assert "SMTPRecipientsRefused" in outbound.last_error
    assert outbound.text_body == ""
    assert inbox.messages == []


def test_stalled_email_is_queued_again_only_if_never_tried(settings):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.tasks import requeue_stalled_email

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with transaction.atomic():  # created, but the commit-time task is never run
        never_tried = queue()
        tried = queue()
        too_old = queue()
        transaction.set_rollback(False)
    # Emulate: the broker was down at commit time for these rows.
    OutboundEmail.objects.all().update(
        status=OutboundEmail.Status.QUEUED, attempts=0, sent_at=None, text_body="plain body"
    )
    OutboundEmail.objects.filter(pk=tried.pk).update(attempts=1)
    now = timezone.now()
    OutboundEmail.objects.exclude(pk=too_old.pk).update(created_at=now - timedelta(minutes=30))
    OutboundEmail.objects.filter(pk=too_old.pk).update(created_at=now - timedelta(days=2))

    assert requeue_stalled_email() == 1

    assert OutboundEmail.objects.get(pk=never_tried.pk).status == OutboundEmail.Status.SENT
    assert OutboundEmail.objects.get(pk=tried.pk).status == OutboundEmail.Status.QUEUED


def test_only_network_trouble_and_4xx_answers_are_retried():
    import smtplib

    assert is_transient(ConnectionRefusedError())
    assert is_transient(smtplib.SMTPServerDisconnected("gone"))
    assert is_transient(smtplib.SMTPDataError(451, b"try again later"))
    assert not is_transient(smtplib.SMTPDataError(554, b"message refused"))
    assert not is_transient(smtplib.SMTPRecipientsRefused({"a@x.test": (550, b"no such user")}))
    assert is_transient(smtplib.SMTPRecipientsRefused({"a@x.test": (452, b"mailbox full")}))
    assert not is_transient(ValueError("bad header"))


def test_retry_backoff_grows_and_is_capped():
    assert all(0 <= retry_countdown(0) <= 5 for _ in range(50))
    assert all(0 <= retry_countdown(3) <= 40 for _ in range(50))
    assert all(retry_countdown(20) <= 600 for _ in range(50))


def test_failed_email_goes_out_when_the_server_is_back(settings, smtp_server):
    port, inbox = smtp_server
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = 1
    settings.EMAIL_USE_TLS = False
    outbound = queue()

    settings.EMAIL_PORT = port
    assert send_email.apply(args=[str(outbound.pk)]).get() == "sent"

    outbound.refresh_from_db()
    assert outbound.status == OutboundEmail.Status.SENT
    assert outbound.text_body == ""
    assert len(inbox.messages) == 1


@pytest.mark.django_db(transaction=True)
def test_a_send_holds_no_lock_or_transaction_while_the_server_answers(smtp_settings):
    """The email is claimed in one short transaction and settled in another: while the
    message goes out, nothing is locked and no transaction is open."""
    from django.core.mail import EmailMessage
    from django.db import connection

    seen: list[tuple[bool, str]] = []
    real_send = EmailMessage.send

    def watching_send(message, *args, **kwargs):
        claimed = OutboundEmail.objects.get()
        seen.append((connection.in_atomic_block, claimed.status))
        return real_send(message, *args, **kwargs)

    with mock.patch.object(EmailMessage, "send", watching_send):
        outbound = queue()

    outbound.refresh_from_db()
    assert seen == [(False, OutboundEmail.Status.SENDING)]
    assert outbound.status == OutboundEmail.Status.SENT
    assert outbound.attempts == 1


def test_an_email_whose_sender_died_mid_send_is_sent_again_once_its_claim_expires(settings):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.tasks import CLAIM_EXPIRES_AFTER, requeue_stalled_email

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with transaction.atomic():  # created, but the commit-time task is never run
        fresh_claim = queue()
        dead_claim = queue()
        transaction.set_rollback(False)
    now = timezone.now()
    OutboundEmail.objects.update(
        status=OutboundEmail.Status.SENDING,
        attempts=1,
        attempted_at=now,
        created_at=now - timedelta(minutes=30),
    )
    OutboundEmail.objects.filter(pk=dead_claim.pk).update(
        attempted_at=now - CLAIM_EXPIRES_AFTER - timedelta(seconds=1)
    )

    assert send_email(str(fresh_claim.pk)) == "skipped"  # its sender may still be at it
    assert requeue_stalled_email() == 1

    assert OutboundEmail.objects.get(pk=dead_claim.pk).status == OutboundEmail.Status.SENT
    assert OutboundEmail.objects.get(pk=fresh_claim.pk).status == OutboundEmail.Status.SENDING
