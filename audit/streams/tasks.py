"""The log streams' Celery tasks. The events pipeline loop calls ``queue_due_streams`` on every
pass; beat runs ``queue_streams`` as well, so streams keep flowing without the loop."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def deliver_stream(stream_id: int) -> str:
    """Send one stream's next batch. Safe to run twice: the second finds the stream claimed
    or the batch already past its place."""
    from audit.streams.delivery import deliver_next_batch

    return deliver_next_batch(stream_id)


@shared_task(acks_late=True)
def queue_streams() -> int:
    from audit.streams.delivery import queue_due_streams

    return queue_due_streams()
