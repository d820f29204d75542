"""Liveness and readiness probes for load balancers and orchestrators.

``/readyz`` answers 503 only when this process cannot serve requests: its database, cache or
broker does not answer. Its ``details`` also report how the events pipeline loop is doing (the
horizon lag and the loop's heartbeat, events/loop_status.py), for monitoring to alert on, but
they never change the status: every web process shares the one loop and the one cluster, so a
lagging or stopped loop would take every instance out of the load balancer at once and turn
late webhooks into an outage of sign-ins.
"""

from __future__ import annotations

import logging
import uuid

from django.core.cache import cache
from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from events.loop_status import LoopStatus, State, loop_status

logger = logging.getLogger(__name__)


@transaction.non_atomic_requests  # liveness must not even open a database transaction
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests; says nothing about its dependencies."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return the value just written")
    cache.delete(key)


def _check_broker() -> None:
    from config.celery import app

    if app.conf.task_always_eager:
        return  # embedded mode: tasks run in-process, there is no broker to reach
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def _events_loop(database_ok: bool) -> dict[str, object]:
    """The pipeline loop's heartbeat and horizon lag: one primary-key read, skipped when the
    database did not answer. Information only: it never makes the probe fail."""
    if not database_ok:
        return LoopStatus(State.UNKNOWN).as_json()
    try:
        return loop_status().as_json()
    except Exception:
        logger.exception("reading the events loop's heartbeat failed")
        return LoopStatus(State.UNKNOWN).as_json()


@transaction.non_atomic_requests
@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to take traffic: database, cache and broker all answer. ``details`` say how the
    events loop is doing, without bearing on readiness (the module's docstring says why)."""
    checks = {"database": _check_database, "cache": _check_cache, "broker": _check_broker}
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception:  # any failure means "not ready"; the reason goes to the log only
            logger.exception("readiness check %s failed", name)
            results[name] = "unavailable"
    ready = all(value == "ok" for value in results.values())
    details = {"events_loop": _events_loop(results["database"] == "ok")}
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": results, "details": details},
        status=200 if ready else 503,
    )
