"""The Celery app.

Workers run ``celery -A config worker``; the one scheduler runs ``celery -A config beat``.
"""

import os

from celery import Celery
from celery.signals import beat_init, task_postrun, task_prerun, worker_init

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


@task_prerun.connect
@task_postrun.connect
def close_old_connections(task: object = None, **kwargs: object) -> None:
    """Around each task, what Django does around each request: close a database connection
    that is past ``DATABASE_CONN_MAX_AGE`` or broken, keep the others (``CELERY_DB_REUSE_MAX``
    stops Celery from closing them all). Not for a task run eagerly: it runs inside its
    caller's transaction."""
    if getattr(getattr(task, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections as close

    close()


def messages_waiting(queue: str) -> int | None:
    """How many messages the broker holds on ``queue`` for a worker to take; None when that
    cannot be known (no broker in embedded mode, or the broker did not answer).

    Messages a worker has already taken but not finished are not counted."""
    from kombu.exceptions import ChannelError

    if app.conf.task_always_eager:
        return None
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            channel = conn.channel()
            try:
                return int(channel.queue_declare(queue=queue, passive=True).message_count)
            except ChannelError:
                return 0  # no such queue: an empty Redis list does not exist
            finally:
                channel.close()
    except Exception:  # noqa: BLE001  (a broker that does not answer: the caller decides)
        return None
