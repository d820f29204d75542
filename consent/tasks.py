"""Background work for privacy rights: building exports and expiring unused ones. Each task
checks the request's status under a row lock first, so running it twice (a retry, a second
worker) does nothing more. The work itself lives in ``consent.export``. (Erasure's jobs come
with ``consent.erasure``, not built yet: docs/issue-6-consent.md.)"""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def build_export(request_id: int) -> str:
    from consent import export

    return export.build(request_id)


@shared_task
def expire_exports() -> int:
    from consent import export

    return export.expire()
