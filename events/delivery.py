"""Sending one webhook delivery: claim, send, settle (docs/events.md 4.5).

A short transaction claims the delivery; the request goes out with no transaction open; a
second short transaction records how it went (as ``accounts.tasks.send_email`` does). Retries
are a date in ``next_attempt_at`` that the pipeline loop reads, never a broker countdown (T4).
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config import outbound
from events import notices, signing
from events.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint

logger = logging.getLogger(__name__)

EXCERPT_BYTES = 1024
JITTER = 0.2
# Answers after which the receiver asked to be given time (Retry-After is honoured).
THROTTLED = frozenset({429, 503})


def body_of(event: Event) -> bytes:
    """The request body, the same bytes for every attempt, resend and endpoint."""
    return json.dumps(
        {
            "id": event.public_id,
            "type": event.type,
            "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
            "organization_id": event.organization_id,
            "data": event.data,
        },
        separators=(",", ":"),
        ensure_ascii=False,
        sort_keys=True,
    ).encode()


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    endpoint_id: int
    url: str
    operator_owned: bool
    message_id: str
    body: bytes


@dataclass(frozen=True)
class Result:
    status: int | None = None
    error: str = ""
    latency_ms: int = 0
    excerpt: str = ""
    retry_after: int | None = None
    abort: bool = False


def claim(delivery_id: int) -> Claimed | str:
    """Mark the delivery as being sent by this run; or say why there is nothing to send."""
    with transaction.atomic(durable=True):
        delivery = (
            # Only the delivery's row: locking its endpoint too would make a second worker,
            # claiming another delivery to the same endpoint at that moment, skip it.
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint", "event")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return "skipped"  # gone, or claimed by a run that holds it right now
        if delivery.status != Delivery.Status.PENDING:
            return delivery.status
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > timezone.now():
            # A second message for a delivery the broker already handed out (the loop queues
            # again what sat a minute unclaimed): the schedule, not the broker, says when.
            return "not due"
        endpoint = delivery.endpoint
        if endpoint.status != WebhookEndpoint.Status.ENABLED:
            return "endpoint disabled"
        delivery.status = Delivery.Status.SENDING
        delivery.attempts += 1
        delivery.claimed_at = timezone.now()
        delivery.save(update_fields=["status", "attempts", "claimed_at"])
        return Claimed(
            delivery_id=delivery.pk,
            endpoint_id=endpoint.pk,
            url=endpoint.url,
            operator_owned=endpoint.operator_owned,
            message_id=delivery.event.public_id,
            body=body_of(delivery.event),
        )


def send(claimed: Claimed) -> Result:
    """One attempt, signed now by every live secret; no transaction is open here."""
    secrets = signing.live_secrets(claimed.endpoint_id)
    headers = signing.signed_headers(claimed.message_id, claimed.body, secrets, timezone.now())
    started = time.monotonic()
    try:
        response = outbound.post(
            claimed.url,
            claimed.body,
            headers,
            timeout=settings.GATEHOUSE_WEBHOOK_TIMEOUT,
            max_bytes=EXCERPT_BYTES,
            operator_owned=claimed.operator_owned,
        )
    except outbound.OutboundError as exc:
        return Result(error=str(exc)[:300], latency_ms=_since(started))
    lower = {name.lower(): value for name, value in response.headers.items()}
    return Result(
        status=response.status,
        latency_ms=_since(started),
        excerpt=_printable(response.body.decode("utf-8", "replace"))[:EXCERPT_BYTES],
        retry_after=retry_after_seconds(lower.get("retry-after", "")),
        abort=lower.get("webhook-delivery", "").strip().lower() == "abort-message",
        error="" if 200 <= response.status < 300 else f"HTTP {response.status}",
    )


def _printable(text: str) -> str:
    """The receiver's text without NUL characters, which PostgreSQL cannot store (a hostile
    answer must not keep its delivery from being settled)."""
    return text.replace("\x00", "\ufffd")


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def retry_after_seconds(value: str, now: datetime | None = None) -> int | None:
    """``Retry-After`` as seconds from now (delta-seconds or an HTTP date), capped; None when
    absent or unreadable."""
    value = (value or "").strip()
    if not value:
        return None
    cap = settings.GATEHOUSE_WEBHOOK_RETRY_AFTER_CAP
    if value.isascii() and value.isdigit():  # "²" is a digit to str.isdigit, not to int()
        return min(int(value), cap)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    seconds = int((when - (now or timezone.now())).total_seconds())
    return min(max(seconds, 0), cap)


def next_delay(attempts: int) -> float | None:
    """Seconds before the next attempt after ``attempts`` tries, with jitter; None when the
    schedule is spent."""
    schedule = settings.GATEHOUSE_WEBHOOK_SCHEDULE
    if attempts > len(schedule):
        return None
    step = schedule[attempts - 1]
    return step * random.uniform(1 - JITTER, 1 + JITTER)


def settle(claimed: Claimed, result: Result) -> str:
    """Record the attempt and decide what comes next. Returns the delivery's new status."""
    with transaction.atomic(durable=True):
        delivery = Delivery.objects.select_for_update().filter(pk=claimed.delivery_id).first()
        if delivery is None:
            return "gone"  # its endpoint was deleted meanwhile
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        now = timezone.now()
        DeliveryAttempt.objects.create(
            delivery=delivery,
            at=now,
            status_code=result.status,
            latency_ms=result.latency_ms,
            error=result.error[:300],
            response_excerpt=result.excerpt,
            retry_after_s=result.retry_after,
        )
        delivery.last_status = result.status
        delivery.last_error = result.error[:300]
        delivery.last_latency_ms = result.latency_ms
        delivery.claimed_at = None
        delivery.queued_at = None
        if result.status is not None and 200 <= result.status < 300:
            delivery.status = Delivery.Status.DELIVERED
            delivery.delivered_at = now
            endpoint.failing_since = None
            endpoint.last_success_at = now
            endpoint.save(update_fields=["failing_since", "last_success_at"])
        elif result.status == 410:
            delivery.status = Delivery.Status.FAILED
            delivery.save()
            notices.turn_off(endpoint, WebhookEndpoint.DisabledReason.GONE)
            return delivery.status
        else:
            _schedule_retry(delivery, result, now)
            if endpoint.failing_since is None:
                endpoint.failing_since = now
                endpoint.save(update_fields=["failing_since"])
            elif endpoint.failing_since < now - timedelta(
                hours=settings.GATEHOUSE_WEBHOOK_DISABLE_AFTER_HOURS
            ):
                delivery.save()
                notices.turn_off(endpoint, WebhookEndpoint.DisabledReason.FAILING)
                return delivery.status
        delivery.save()
        return delivery.status


def _schedule_retry(delivery: Delivery, result: Result, now: datetime) -> None:
    if result.abort:
        delivery.status = Delivery.Status.FAILED
        return
    delay = next_delay(delivery.attempts)
    if delay is None:
        delivery.status = Delivery.Status.FAILED
        return
    throttled = result.status is not None and (result.status in THROTTLED or result.status >= 500)
    if throttled and result.retry_after is not None:
        delay = max(delay, float(result.retry_after))
    delivery.status = Delivery.Status.PENDING
    delivery.next_attempt_at = now + timedelta(seconds=delay)


def deliver(delivery_id: int) -> str:
    claimed = claim(delivery_id)
    if isinstance(claimed, str):
        return claimed
    try:
        result = send(claimed)
    except Exception as exc:  # whatever went wrong, the attempt is settled and rescheduled
        logger.exception("webhook delivery %s failed before it was sent", delivery_id)
        result = Result(error=f"Gatehouse could not send it: {type(exc).__name__}")
    return settle(claimed, result)
