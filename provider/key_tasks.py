"""The daily signing-key rotation job (beat: ``rotate-signing-keys`` in config/settings.py).

Its own module, not provider/tasks.py (the token purge): Celery finds it through
``CELERY_IMPORTS``. Safe to run twice or late: each step is taken only when due, and a step
taken by another run is simply no longer due.
"""

from __future__ import annotations

from celery import shared_task

from provider.key_rotation import auto_rotate


@shared_task(acks_late=True)
def rotate_signing_keys() -> list[str]:
    """The due step for each algorithm (provider.key_rotation); what was done."""
    return [str(step) for step in auto_rotate()]
