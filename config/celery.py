"""The Celery app.

Workers run ``celery -A config worker``; the one scheduler runs ``celery -A config beat``.
"""

import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("gatehouse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def refuse_to_start_if_unsafe(**kwargs: object) -> None:
    """A worker or the scheduler runs Gatehouse's start-up checks (config/checks.py) too."""
    import django

    django.setup()
    from config.checks import refuse_to_start_if_unsafe as check

    check()
