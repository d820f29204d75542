"""The webhook stages of the pipeline loop (docs/events.md 4.4).

- ``dispatch``: events past the dispatch cursor, in commit order and below the horizon (T1),
  become one delivery per enabled endpoint that wants them. The cursor moves in the same
  transaction as the inserts, and a delivery is unique per (endpoint, event), so a batch
  repeated after a crash inserts nothing twice.
- ``queue``: due deliveries are marked queued and handed to the broker. A broker that is
  down, or that lost what it held, costs nothing: a delivery still pending a while after it
  was queued is queued again (T19, T20), but only when the broker's queue is empty (or
  after ten times as long). A backlog the workers have not reached yet is not lost, and
  copying it again every ``GATEHOUSE_EVENTS_CLAIM_SECONDS`` would bury the workers in
  duplicate messages.
- ``reclaim``: a delivery claimed by a worker that died mid-send goes back to pending once the
  claim is older than ``GATEHOUSE_EVENTS_CLAIM_SECONDS``.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.celery import app as celery_app
from config.celery import messages_waiting
from events import horizon
from events.models import Delivery, Event, PipelineCursor, WebhookEndpoint

logger = logging.getLogger(__name__)

DISPATCH_BATCH = 500
QUEUE_BATCH = 500
STALE_WAIT_FACTOR = 10
HEARTBEAT = timedelta(seconds=5)
# This process's dispatch state: whether its last batch found events (the next one then skips
# the idle check), and when it last measured the horizon's lag.
_busy = False
_lag_measured_at = float("-inf")
TEST_EVENT_TYPE = "webhook.test"  # sent to one endpoint by events.services.send_test only


def _wants(endpoint: WebhookEndpoint, event: Event) -> bool:
    if endpoint.organization_id is not None and endpoint.organization_id != event.organization_id:
        return False
    # An endpoint hears of what happened after it was registered, not of a backlog.
    return endpoint.wants(event.type) and event.occurred_at >= endpoint.created_at


def dispatch(batch: int = DISPATCH_BATCH) -> int:
    """One batch of events into deliveries; returns how many events were read."""
    global _busy
    # Read before the transaction writes anything (and so has a transaction id of its own).
    current = horizon.current_horizon()
    if not _busy and _idle(current):
        return 0
    with transaction.atomic():
        cursor, _ = PipelineCursor.objects.select_for_update().get_or_create(stage="dispatch")
        now = timezone.now()
        start = (cursor.txid, int(cursor.last_id or 0))
        events = list(
            horizon.after(Event.objects.all(), start, current).only(
                "id", "txid", "type", "organization_id", "occurred_at"
            )[:batch]
        )
        if _lag_due():
            cursor.horizon_lag_ms = _lag_ms(current, now)
        cursor.updated_at = now
        if not events:
            cursor.save(update_fields=["horizon_lag_ms", "updated_at"])
            _busy = False
            return 0
        endpoints = list(
            WebhookEndpoint.objects.filter(status=WebhookEndpoint.Status.ENABLED).only(
                "id", "organization_id", "event_types", "created_at"
            )
        )
        rows = [
            Delivery(endpoint_id=endpoint.pk, event_id=event.pk, next_attempt_at=now)
            for event in events
            if event.type != TEST_EVENT_TYPE
            for endpoint in endpoints
            if _wants(endpoint, event)
        ]
        # ON CONFLICT DO NOTHING: a batch read again after a crash adds nothing.
        Delivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        cursor.txid, last_id = horizon.position(events[-1])
        cursor.last_id = str(last_id)
        cursor.save()
    _busy = True
    return len(events)


def _idle(current: int | None) -> bool:
    """Nothing to dispatch, found with plain reads: an idle pass locks no row and commits no
    write (a row lock alone costs PostgreSQL a transaction id and a WAL record). The cursor's
    heartbeat, ``updated_at`` and ``horizon_lag_ms``, is written every ``HEARTBEAT`` at most.
    Skipped while events keep coming (``_busy``): then it would only add queries."""
    cursor = PipelineCursor.objects.filter(stage="dispatch").first()
    if cursor is None:
        return False
    start = (cursor.txid, int(cursor.last_id or 0))
    if horizon.after(Event.objects.all(), start, current).exists():
        return False
    now = timezone.now()
    if now - cursor.updated_at >= HEARTBEAT:
        PipelineCursor.objects.filter(pk=cursor.pk).update(
            updated_at=now, horizon_lag_ms=_lag_ms(current, now)
        )
    return True


def _lag_due() -> bool:
    """Whether to measure the horizon's lag in this pass (one query; every ``HEARTBEAT``)."""
    global _lag_measured_at
    if time.monotonic() - _lag_measured_at < HEARTBEAT.total_seconds():
        return False
    _lag_measured_at = time.monotonic()
    return True


def _lag_ms(current: int | None, now: object) -> int:
    """How long the oldest committed event at or above the horizon has waited for it (T2)."""
    if current is None:
        return 0
    waiting = (
        Event.objects.filter(txid__gte=current).order_by("txid", "id").values("occurred_at").first()
    )
    if waiting is None:
        return 0
    return max(int((timezone.now() - waiting["occurred_at"]).total_seconds() * 1000), 0)


def _requeue_after() -> timedelta:
    return timedelta(seconds=settings.GATEHOUSE_EVENTS_CLAIM_SECONDS)


def queue_due(batch: int = QUEUE_BATCH) -> int:
    """Hand due deliveries to the broker; returns how many were handed over."""
    from events.tasks import deliver

    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                status=Delivery.Status.PENDING,
                next_attempt_at__lte=now,
                endpoint__status=WebhookEndpoint.Status.ENABLED,
            )
            .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=now - _requeue_after()))
            .order_by("next_attempt_at")
            .values_list("id", "queued_at")[:batch]
        )
        # A queue that never empties (other jobs share it) would hold lost deliveries back
        # forever; past ten claim periods they are queued again whatever the broker holds.
        overdue = now - STALE_WAIT_FACTOR * _requeue_after()
        ids = [pk for pk, queued_at in rows if queued_at is None or queued_at < overdue]
        if len(ids) < len(rows) and _broker_lost_them(deliver):
            ids = [pk for pk, _ in rows]
        if not ids:
            return 0
        Delivery.objects.filter(id__in=ids).update(queued_at=now)
    sent = 0
    for delivery_id in ids:
        try:
            deliver.delay(delivery_id)
        except Exception as exc:  # noqa: BLE001  (a dead broker: the table keeps them for later)
            logger.warning("could not queue webhook deliveries: %s", type(exc).__name__)
            break
        sent += 1
    return sent


def _broker_lost_them(task: Any) -> bool:
    """Deliveries queued a while ago and still not taken: lost, unless the broker still holds
    messages on the task's queue, which the workers will reach (then they wait)."""
    waiting = messages_waiting(getattr(task, "queue", None) or celery_app.conf.task_default_queue)
    return not waiting


def reclaim() -> int:
    """Deliveries whose worker died mid-send, back to pending and due now."""
    now = timezone.now()
    expired = now - timedelta(seconds=settings.GATEHOUSE_EVENTS_CLAIM_SECONDS)
    return Delivery.objects.filter(status=Delivery.Status.SENDING, claimed_at__lt=expired).update(
        status=Delivery.Status.PENDING,
        claimed_at=None,
        queued_at=None,
        next_attempt_at=now,
        last_error="The worker stopped before the answer was recorded.",
    )
