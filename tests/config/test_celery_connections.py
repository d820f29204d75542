"""A worker keeps its database connection from one task to the next, as a web process keeps
it from one request to the next (config/celery.py, CELERY_DB_REUSE_MAX). Celery's Django
fixup otherwise closes every connection around every task: a new PostgreSQL session for each
webhook delivery."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from events.models import Event
from events.tasks import prune_events


def _old_event() -> Event:
    days = settings.GATEHOUSE_EVENTS_RETENTION_DAYS + 1
    return Event.objects.create(
        type="organization.updated", occurred_at=timezone.now() - timedelta(days=days)
    )


def _pruned(event: Event, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while Event.objects.filter(pk=event.pk).exists():
        assert time.monotonic() < deadline, "the worker did not run the task"
        time.sleep(0.1)


def _worker_sessions() -> dict[int, datetime]:
    """Sessions on the test database other than this process's own: the worker's."""
    own = set()
    for alias in connections:
        db = connections[alias]
        if db.connection is not None and db.vendor == "postgresql":
            with db.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                own.add(cursor.fetchone()[0])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity"
            " WHERE datname = current_database() AND backend_type = 'client backend'"
        )
        return {pid: started for pid, started in cursor.fetchall() if pid not in own}


def test_a_worker_keeps_its_database_session_between_tasks(celery_worker):
    first = _old_event()
    prune_events.delay()
    _pruned(first)
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        after_first = cursor.fetchone()[0]
    for _ in range(3):
        event = _old_event()
        prune_events.delay()
        _pruned(event)
    time.sleep(0.5)  # past the last task's end, where the fixup would close its connection
    sessions = _worker_sessions()
    assert sessions, "the worker closed its database connection after its last task"
    assert min(sessions.values()) < after_first, (
        "each task opened a new database session",
        sessions,
        after_first,
    )
