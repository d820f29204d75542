"""Periodic jobs of the outbox."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from events.models import Event, PrunedThrough

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
