"""Background jobs for SCIM: keeping each directory's request log short."""

from __future__ import annotations

import logging

from celery import shared_task

from sso.scim.models import Directory, ScimRequest

logger = logging.getLogger(__name__)

# What the SCIM tab's request log keeps per directory.
KEEP_REQUESTS = 1000
PRUNE_BATCH = 1000
# Batches per directory and run: a directory that called more than this since the last run
# is finished by the next one (beat runs it every ten minutes).
MAX_BATCHES = 20
DIRECTORY_BATCH = 500


@shared_task(acks_late=True)
def prune_scim_requests(
    keep: int = KEEP_REQUESTS, batch_size: int = PRUNE_BATCH, max_batches: int = MAX_BATCHES
) -> int:
    """Delete each directory's requests beyond its newest ``keep``, ``batch_size`` at a time.
    Directories are walked in id order, a batch of ids at a time; rows past the first ``keep``
    are found on the (directory, -at) index, never counted or loaded whole. Safe to run twice:
    a second run finds fewer rows, or none. Returns how many rows were deleted."""
    deleted = 0
    after = 0
    while True:
        ids = list(
            Directory.objects.filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:DIRECTORY_BATCH]
        )
        for directory_id in ids:
            deleted += _prune_directory(directory_id, keep, batch_size, max_batches)
        if len(ids) < DIRECTORY_BATCH:
            break
        after = ids[-1]
    if deleted:
        logger.info("pruned %s SCIM request rows", deleted)
    return deleted


def _prune_directory(directory_id: int, keep: int, batch_size: int, max_batches: int) -> int:
    newest_first = ScimRequest.objects.filter(directory_id=directory_id).order_by("-at", "-id")
    deleted = 0
    for _ in range(max_batches):
        old = list(newest_first.values_list("pk", flat=True)[keep : keep + batch_size])
        if not old:
            break
        deleted += ScimRequest.objects.filter(pk__in=old).delete()[0]
        if len(old) < batch_size:
            break
    return deleted
