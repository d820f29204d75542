"""Background work for privacy rights: building exports and expiring unused ones, and erasing
accounts. Each task checks the request's status under a row lock first, so running it twice (a
retry, a second worker) does nothing more. The work itself lives in ``consent.export`` and
``consent.erasure`` (both packages)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def build_export(request_id: int) -> str:
    from consent.export import job

    return job.build(request_id)


@shared_task
def expire_exports() -> int:
    from consent.export import download

    return download.expire()


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def erase_user(request_id: int) -> str:
    from consent.erasure import job

    return job.erase(request_id)


@shared_task
def run_due_erasures() -> int:
    """Queue the erasures whose grace period is over (and re-check held or stalled ones)."""
    from consent.erasure import schedule

    due = schedule.due_requests()
    for pk in due:
        erase_user.delay(pk)
    return len(due)


@shared_task
def purge_erased_consent_evidence() -> int:
    from consent.erasure import retention

    return retention.purge_evidence()
