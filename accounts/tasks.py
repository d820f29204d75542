"""Background work for accounts: delivering email."""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta

from celery import shared_task
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from accounts.models import OutboundEmail

logger = logging.getLogger(__name__)

# Failures worth another try: the mail server or the network, not the message itself.
TRANSIENT_ERRORS = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    smtplib.SMTPHeloError,
    smtplib.SMTPDataError,
    smtplib.SMTPResponseException,
    ConnectionError,
    TimeoutError,
    OSError,
)
MAX_RETRIES = 8
OUTBOUND_EMAIL_RETENTION = timedelta(days=30)
PRUNE_BATCH_SIZE = 1000
STALLED_AFTER = timedelta(minutes=10)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def send_email(self, outbound_email_id: str) -> str:
    """Send one queued email. Safe to run twice: a sent email is not sent again."""
    failure: Exception | None = None
    with transaction.atomic():
        outbound = OutboundEmail.objects.select_for_update().filter(pk=outbound_email_id).first()
        if outbound is None or outbound.status == OutboundEmail.Status.SENT:
            return "skipped"
        outbound.attempts += 1
        message = EmailMultiAlternatives(
            subject=outbound.subject,
            body=outbound.text_body,
            from_email=outbound.from_email,
            to=[outbound.to],
        )
        if outbound.html_body:
            message.attach_alternative(outbound.html_body, "text/html")
        try:
            message.send()
        except TRANSIENT_ERRORS as exc:
            failure = exc
            final = self.request.retries >= MAX_RETRIES
            outbound.status = OutboundEmail.Status.FAILED if final else OutboundEmail.Status.QUEUED
            outbound.last_error = f"{type(exc).__name__}: {exc}"[:500]
            outbound.save(update_fields=["attempts", "status", "last_error"])
        else:
            # The body may carry a one-time code or a reset link: once it is out, keep only the
            # record of what was sent to whom.
            outbound.status = OutboundEmail.Status.SENT
            outbound.sent_at = timezone.now()
            outbound.text_body = ""
            outbound.html_body = ""
            outbound.last_error = ""
            outbound.save(
                update_fields=[
                    "attempts",
                    "status",
                    "sent_at",
                    "text_body",
                    "html_body",
                    "last_error",
                ]
            )
    if failure is None:
        return "sent"
    logger.warning(
        "sending email %s failed (attempt %s): %s",
        outbound_email_id,
        self.request.retries + 1,
        type(failure).__name__,
    )
    if self.request.retries >= MAX_RETRIES:
        return "failed"
    # Raised outside the transaction, so the attempt count and error above are kept.
    raise failure


@shared_task(acks_late=True)
def requeue_stalled_email() -> int:
    """Queue again the emails whose task never ran (e.g. the broker was down at commit time)."""
    cutoff = timezone.now() - STALLED_AFTER
    stalled = OutboundEmail.objects.filter(
        status=OutboundEmail.Status.QUEUED, attempts=0, created_at__lt=cutoff
    ).values_list("pk", flat=True)[:PRUNE_BATCH_SIZE]
    count = 0
    for pk in stalled:
        send_email.delay(str(pk))
        count += 1
    return count


@shared_task(acks_late=True)
def prune_outbound_email() -> int:
    """Delete delivery records older than the retention period, in batches."""
    cutoff = timezone.now() - OUTBOUND_EMAIL_RETENTION
    deleted = 0
    while True:
        batch = list(
            OutboundEmail.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[
                :PRUNE_BATCH_SIZE
            ]
        )
        if not batch:
            return deleted
        deleted += OutboundEmail.objects.filter(pk__in=batch).delete()[0]


@shared_task(acks_late=True)
def purge_ended_user_sessions(after_id: int = 0) -> int:
    """Delete session-tracking rows whose session has ended (logged out or expired).

    Walks the table in id order, a batch at a time; a run that fills its batch queues the
    next batch rather than holding a worker for the whole table.
    """
    from allauth.usersessions.models import UserSession

    batch = list(UserSession.objects.filter(pk__gt=after_id).order_by("pk")[:PRUNE_BATCH_SIZE])
    ended = [session.pk for session in batch if not session.exists()]
    if ended:
        UserSession.objects.filter(pk__in=ended).delete()
    if len(batch) == PRUNE_BATCH_SIZE:
        purge_ended_user_sessions.delay(batch[-1].pk)
    return len(ended)
