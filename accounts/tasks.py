"""Background work for accounts: delivering email."""

from __future__ import annotations

import logging
import random
import re
import smtplib
from datetime import datetime, timedelta

from celery import shared_task
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
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
# How long a task's claim on an email holds: far beyond the SMTP timeout (EMAIL_TIMEOUT), so
# only a run that died mid-send loses it.
CLAIM_EXPIRES_AFTER = timedelta(minutes=10)


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
    """Send one queued email. Safe to run twice: a sent email is not sent again.

    No transaction is open, and no row locked, while the server is talked to: a short one
    claims the email, the message goes out, another short one records how it went."""
    message = _claim(outbound_email_id)
    if isinstance(message, str):
        return message
    try:
        message.send()
    except Exception as exc:
        final = not is_transient(exc) or self.request.retries >= MAX_RETRIES
        attempts = _settle(outbound_email_id, failure=exc, final=final)
        if final:
            logger.warning(
                "email %s failed for good after %s attempt(s): %s",
                outbound_email_id,
                attempts,
                type(exc).__name__,
            )
            return "failed"
        logger.warning(
            "sending email %s failed (attempt %s), will retry: %s",
            outbound_email_id,
            self.request.retries + 1,
            type(exc).__name__,
        )
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries)) from exc
    _settle(outbound_email_id, failure=None, final=True)
    return "sent"


def _claimable(outbound: OutboundEmail, now: datetime) -> bool:
    """Queued, or claimed by a run that died while talking to the server (a claim outlives
    any send: the server's timeout is far shorter)."""
    if outbound.status == OutboundEmail.Status.QUEUED:
        return True
    return outbound.status == OutboundEmail.Status.SENDING and (
        outbound.attempted_at is None or outbound.attempted_at < now - CLAIM_EXPIRES_AFTER
    )


def _claim(outbound_email_id: str) -> EmailMultiAlternatives | str:
    """Mark the email as being sent by this run and return its message; or, when there is
    nothing to send, what became of it ("held back", "skipped")."""
    with transaction.atomic(durable=True):
        outbound = OutboundEmail.objects.select_for_update().filter(pk=outbound_email_id).first()
        if outbound is not None and outbound.status == OutboundEmail.Status.HELD_BACK:
            # Written by the request only so that holding it back cost what sending would
            # (accounts/enumeration.py); it never goes out, so its body goes now.
            if outbound.text_body or outbound.html_body:
                _erase_body(outbound)
                outbound.save(update_fields=["to", "text_body", "html_body", "last_error"])
            return "held back"
        now = timezone.now()
        # Of two runs at once (a retry and a requeue), one claims it; the other skips it.
        if outbound is None or not _claimable(outbound, now):
            return "skipped"
        outbound.status = OutboundEmail.Status.SENDING
        outbound.attempts += 1
        outbound.attempted_at = now
        outbound.save(update_fields=["status", "attempts", "attempted_at"])
    message = EmailMultiAlternatives(
        subject=outbound.subject,
        body=outbound.text_body,
        from_email=outbound.from_email,
        to=[outbound.to],
    )
    if outbound.html_body:
        message.attach_alternative(outbound.html_body, "text/html")
    return message


def _settle(outbound_email_id: str, *, failure: Exception | None, final: bool) -> int:
    """Record how the claimed send went: sent, failed for good, or queued again for a retry.
    Returns the number of attempts so far."""
    with transaction.atomic(durable=True):
        outbound = OutboundEmail.objects.select_for_update().filter(pk=outbound_email_id).first()
        if outbound is None:  # erased with its recipient's account meanwhile
            return 0
        if failure is not None:
            _record_failure(outbound, failure, final=final)
            return outbound.attempts
        outbound.status = OutboundEmail.Status.SENT
        outbound.sent_at = timezone.now()
        _erase_body(outbound)
        outbound.last_error = ""
        outbound.save(
            update_fields=["to", "status", "sent_at", "text_body", "html_body", "last_error"]
        )
        return outbound.attempts


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
    outbound.save(update_fields=["to", "status", "last_error", "text_body", "html_body"])


@shared_task(acks_late=True)
def requeue_stalled_email() -> int:
    """Queue again the emails whose task never ran (e.g. the broker was down at commit time),
    or died while sending (its claim has expired)."""
    now = timezone.now()
    # Never tried at all (a task that ran once counts its attempt, and Celery owns its retries)
    # or abandoned mid-send, and not so old that its link or code has lost its point.
    never_tried = Q(status=OutboundEmail.Status.QUEUED, attempts=0)
    abandoned = Q(status=OutboundEmail.Status.SENDING, attempted_at__lt=now - CLAIM_EXPIRES_AFTER)
    stalled = OutboundEmail.objects.filter(
        never_tried | abandoned,
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


@shared_task
def apply_due_mfa_resets() -> int:
    """Carry out the resets of second factors whose waiting period is over. Each is applied
    under a row lock after checking it is still pending and due, so a second run (or a
    second beat) does nothing more."""
    from accounts.mfa.services import recovery

    return recovery.apply_due_resets()


@shared_task
def expire_impersonations() -> int:
    """End the impersonations whose time ran out while their browser made no request: the
    record says so, the person is told where no approval was asked, and the staff member's
    waiting session is deleted. Each is ended under a row lock, so a second run does nothing."""
    from accounts.impersonation import services

    return services.expire_overdue()
