"""Background work for accounts: delivering email."""

from __future__ import annotations

import logging
import random
import re
import smtplib
from datetime import timedelta

from celery import shared_task
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from accounts.models import OutboundEmail

logger = logging.getLogger(__name__)

MAX_RETRIES = 8
RETRY_BASE_SECONDS = 5
RETRY_MAX_SECONDS = 600
OUTBOUND_EMAIL_RETENTION = timedelta(days=30)
PRUNE_BATCH_SIZE = 1000
STALLED_AFTER = timedelta(minutes=10)
STALLED_GIVE_UP_AFTER = timedelta(days=1)


def is_transient(exc: BaseException) -> bool:
    """Worth another try: the network or a 4xx "try later" from the server. A 5xx answer (bad
    recipient, message refused) will not change by retrying."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    # SMTPServerDisconnected, refused connections, timeouts: all OSError underneath.
    return isinstance(exc, OSError)


def retry_countdown(retries: int) -> float:
    """Exponential backoff with full jitter: 5 s, 10 s, 20 s ... capped at ten minutes."""
    return random.uniform(0, min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**retries))


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def send_email(self, outbound_email_id: str) -> str:
    """Send one queued email. Safe to run twice: a sent email is not sent again."""
    failure: Exception | None = None
    with transaction.atomic():
        outbound = OutboundEmail.objects.select_for_update().filter(pk=outbound_email_id).first()
        if outbound is not None and outbound.status == OutboundEmail.Status.HELD_BACK:
            # Written by the request only so that holding it back cost what sending would
            # (accounts/enumeration.py); it never goes out, so its body goes now.
            if outbound.text_body or outbound.html_body:
                _erase_body(outbound)
                outbound.save(update_fields=["to", "text_body", "html_body", "last_error"])
            return "held back"
        if outbound is None or outbound.status != OutboundEmail.Status.QUEUED:
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
        except Exception as exc:
            transient = is_transient(exc)
            final = not transient or self.request.retries >= MAX_RETRIES
            _record_failure(outbound, exc, final=final)
            if final:
                logger.warning(
                    "email %s failed for good after %s attempt(s): %s",
                    outbound.pk,
                    outbound.attempts,
                    type(exc).__name__,
                )
                return "failed"
            failure = exc
        else:
            outbound.status = OutboundEmail.Status.SENT
            outbound.sent_at = timezone.now()
            _erase_body(outbound)
            outbound.last_error = ""
            outbound.save(
                update_fields=[
                    "to",
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
        "sending email %s failed (attempt %s), will retry: %s",
        outbound_email_id,
        self.request.retries + 1,
        type(failure).__name__,
    )
    # Raised outside the transaction, so the attempt count and error above are kept.
    raise self.retry(exc=failure, countdown=retry_countdown(self.request.retries))


def _erase_body(outbound: OutboundEmail) -> None:
    # The body may carry a one-time code or a reset link: once the email is out, or will never
    # go out, keep only the record of what was sent to whom. An email that must not keep its
    # recipient (the notice that an account was erased) forgets the address too.
    outbound.text_body = ""
    outbound.html_body = ""
    if outbound.forget_recipient and outbound.to:
        # Also a cut-off copy at the end of a long error message.
        address = re.escape(outbound.to)
        outbound.last_error = re.sub(address, "[erased]", outbound.last_error, flags=re.I)
        for cut in range(len(outbound.to) - 1, 2, -1):
            if outbound.last_error.lower().endswith(outbound.to[:cut].lower()):
                outbound.last_error = outbound.last_error[:-cut] + "[erased]"
                break
        outbound.to = ""


def _record_failure(outbound: OutboundEmail, exc: Exception, *, final: bool) -> None:
    outbound.last_error = f"{type(exc).__name__}: {exc}"[:500]
    if final:
        outbound.status = OutboundEmail.Status.FAILED
        _erase_body(outbound)
    else:
        outbound.status = OutboundEmail.Status.QUEUED
    outbound.save(
        update_fields=["to", "attempts", "status", "last_error", "text_body", "html_body"]
    )


@shared_task(acks_late=True)
def requeue_stalled_email() -> int:
    """Queue again the emails whose task never ran (e.g. the broker was down at commit time)."""
    now = timezone.now()
    # Never tried at all (a task that ran once counts its attempt, and Celery owns its retries),
    # and not so old that its link or code has lost its point.
    stalled = OutboundEmail.objects.filter(
        status=OutboundEmail.Status.QUEUED,
        attempts=0,
        created_at__lt=now - STALLED_AFTER,
        created_at__gt=now - STALLED_GIVE_UP_AFTER,
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


UNCONFIRMED_TOTP_MAX_AGE = timedelta(hours=1)


@shared_task(acks_late=True)
def prune_unconfirmed_totp() -> int:
    """Delete authenticator-app setups that were started and never confirmed with a code."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    cutoff = timezone.now() - UNCONFIRMED_TOTP_MAX_AGE
    return TOTPDevice.objects.filter(confirmed=False, created_at__lt=cutoff).delete()[0]
