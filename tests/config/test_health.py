"""Liveness and readiness probes."""

from __future__ import annotations

from django.core.cache import caches
from django.test import override_settings
from kombu import Connection

from config.celery import app as celery_app


def test_healthz_answers_without_touching_dependencies(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_cache_and_broker(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}


def test_readyz_is_503_when_the_cache_is_unreachable(client):
    unreachable = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        }
    }
    with override_settings(CACHES=unreachable):
        response = client.get("/readyz")
        caches["default"].close()
    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "unavailable"
    assert response.json()["checks"]["database"] == "ok"


def test_readyz_is_503_when_the_broker_is_unreachable(client, monkeypatch):
    # A real connection attempt, to a port nothing listens on.
    monkeypatch.setattr(
        celery_app, "connection_for_write", lambda: Connection("redis://127.0.0.1:1/0")
    )
    celery_app.conf.task_always_eager = False  # the autouse fixture turns it back on
    try:
        response = client.get("/readyz")
    finally:
        celery_app.conf.task_always_eager = True

    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "unavailable"


def test_probes_refuse_other_methods(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405
