"""Email leaves through a Celery task, over SMTP, once, with retries when the server is down."""

from __future__ import annotations

import pytest
from django.core.mail import EmailMultiAlternatives
from django.db import transaction

from accounts import services
from accounts.models import OutboundEmail
from accounts.tasks import MAX_RETRIES, send_email


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
    with pytest.raises(RuntimeError), transaction.atomic():
        queue()
        raise RuntimeError("the request failed after asking for an email")

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

    # The last retry Celery allows gives up and says so.
    assert send_email.apply(args=[str(outbound.pk)], retries=MAX_RETRIES).get() == "failed"
    outbound.refresh_from_db()
    assert outbound.status == OutboundEmail.Status.FAILED
    assert outbound.attempts == 2


def test_send_email_retries_transient_errors_with_backoff():
    assert ConnectionRefusedError in send_email.autoretry_for or OSError in send_email.autoretry_for
    assert send_email.retry_backoff and send_email.max_retries == MAX_RETRIES
    assert send_email.acks_late


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
    assert outbound.status == OutboundEmail.Status.SENT and outbound.text_body == ""
    assert len(inbox.messages) == 1
