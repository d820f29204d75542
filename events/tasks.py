"""Jobs of the outbox and of webhooks: the pipeline loop, one delivery, and pruning."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from events import delivery, pipeline
from events.models import DeliveryAttempt, Event, PrunedThrough

PRUNE_BATCH_SIZE = 1000


@shared_task(acks_late=True)
def prune_events(batch_size: int = PRUNE_BATCH_SIZE) -> int:
    """Delete outbox rows older than ``GATEHOUSE_EVENTS_RETENTION_DAYS``, a batch per
    transaction, oldest first in commit order. Each batch moves the retention mark with it,
    so a feed cursor from before the deleted rows is told (410) instead of skipping them.
    Returns how many rows went; safe to run twice or to stop half way."""
    cutoff = timezone.now() - timedelta(days=settings.GATEHOUSE_EVENTS_RETENTION_DAYS)
    deleted = 0
    while True:
        with transaction.atomic():
            batch = list(
                Event.objects.filter(occurred_at__lt=cutoff)
                .order_by("txid", "id")
                .values_list("txid", "id")[:batch_size]
            )
            if not batch:
                return deleted
            mark = max((txid or 0, pk) for txid, pk in batch)
            pruned, _ = PrunedThrough.objects.select_for_update().get_or_create(pk=1)
            if mark > (pruned.txid, pruned.last_id):
                pruned.txid, pruned.last_id = mark
                pruned.pruned_at = timezone.now()
                pruned.save()
            deleted += Event.objects.filter(pk__in=[pk for _, pk in batch]).delete()[0]


@shared_task(acks_late=True, expires=25)
def run_pipeline(seconds: float | None = None) -> int:
    """The pipeline loop (events/pipeline.py) for about 50 s; beat starts one every 30 s and
    a second copy finds the stages' locks taken and does nothing."""
    return pipeline.run(settings.GATEHOUSE_EVENTS_PIPELINE_SECONDS if seconds is None else seconds)


@shared_task(acks_late=True)
def deliver(delivery_id: int) -> str:
    """Send one webhook delivery (claim, send, settle). Safe to run twice: only one run claims
    it, and a settled delivery is not sent again. Retries are scheduled in the table, never
    with a countdown here (docs/events.md T4)."""
    return delivery.deliver(delivery_id)


@shared_task(acks_late=True)
def prune_delivery_attempts(batch_size: int = PRUNE_BATCH_SIZE) -> int:
    """Delete attempt records older than ``GATEHOUSE_WEBHOOK_ATTEMPT_RETENTION_DAYS``."""
    cutoff = timezone.now() - timedelta(days=settings.GATEHOUSE_WEBHOOK_ATTEMPT_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(
            DeliveryAttempt.objects.filter(at__lt=cutoff).values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        deleted += DeliveryAttempt.objects.filter(id__in=ids).delete()[0]
