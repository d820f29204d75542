"""How long consent evidence outlives an erased account: ``GATEHOUSE_CONSENT_EVIDENCE_DAYS``,
after which the nightly task deletes it."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from config.refusals import service
from consent import evidence

# Consent events deleted per transaction.
BATCH_SIZE = 500


def purge_evidence() -> int:
    """Delete the consent events of people erased longer ago than
    ``GATEHOUSE_CONSENT_EVIDENCE_DAYS``, a batch per transaction, through the database's
    function for it (consent.evidence). Returns how many were deleted."""
    cutoff = timezone.now() - timedelta(days=settings.GATEHOUSE_CONSENT_EVIDENCE_DAYS)
    deleted = 0
    while True:
        batch = _purge_batch(cutoff)
        deleted += batch
        if batch < BATCH_SIZE:
            return deleted


@service
def _purge_batch(cutoff: datetime) -> int:
    return evidence.purge_erased(cutoff=cutoff, batch=BATCH_SIZE)
