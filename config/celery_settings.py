"""How Gatehouse's Celery jobs run: queue, acknowledgement, and database connections.
Imported by name into config/settings.py (the broker and eager mode stay there, beside the
Redis URL they default to)."""

from __future__ import annotations

from config.env import env_int, env_str

__all__ = [
    "CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP",
    "CELERY_BROKER_TRANSPORT_OPTIONS",
    "CELERY_DB_REUSE_MAX",
    "CELERY_TASK_ACKS_LATE",
    "CELERY_TASK_DEFAULT_QUEUE",
    "CELERY_TASK_EAGER_PROPAGATES",
    "CELERY_TASK_IGNORE_RESULT",
    "CELERY_TASK_REJECT_ON_WORKER_LOST",
    "CELERY_TIMEZONE",
    "CELERY_WORKER_PREFETCH_MULTIPLIER",
]

CELERY_TASK_EAGER_PROPAGATES = True
# The queue tasks are sent to (and, by default, workers consume). Jobs that queue other jobs
# (the erasure sweep, every email) send them here too.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = "UTC"
# Celery's Django fixup closes every database connection before and after each task unless
# this is set: a new PostgreSQL session per webhook delivery, which cost more CPU than the
# delivery itself. With it, the fixup closes them only every this many tasks, and
# config/celery.py treats each task as Django treats a request (DATABASE_CONN_MAX_AGE, and a
# connection that failed is replaced).
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
