"""The production email path end to end: request → Redis → a real Celery worker → SMTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import OutboundEmail
from config.celery import app as celery_app
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
DELIVERY_DEADLINE_SECONDS = 60


def _test_database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def celery_worker(smtp_server):
    """A real worker process on its own queue, sharing the test database and Redis."""
    require(connection.vendor == "postgresql", "DATABASE_URL pointing at PostgreSQL")
    require(settings.CELERY_BROKER_URL.startswith("redis://"), "a Redis broker (REDIS_URL)")
    port, inbox = smtp_server
    queue = f"test-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "DEBUG": "false",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "EMAIL_USE_TLS": "false",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            queue,
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    celery_app.conf.task_always_eager = False
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    try:
        yield inbox
    finally:
        celery_app.conf.task_default_queue = default_queue
        celery_app.conf.task_always_eager = True
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
        print(output[-4000:])


@pytest.mark.services
def test_signup_email_is_delivered_by_a_real_worker_over_smtp(client, celery_worker):
    inbox = celery_worker

    response = client.post(
        "/accounts/signup/", {"email": "ada@example.com", "password1": "violet-Anchor-quarry-81"}
    )
    assert response.status_code == 302

    # The worker hands the message to SMTP, then commits the row as sent: wait for both.
    deadline = time.monotonic() + DELIVERY_DEADLINE_SECONDS
    while time.monotonic() < deadline and not (
        inbox.messages
        and OutboundEmail.objects.filter(
            to="ada@example.com", status=OutboundEmail.Status.SENT
        ).exists()
    ):
        time.sleep(0.2)

    [received] = inbox.messages
    assert received["To"] == "ada@example.com"
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert "/accounts/confirm-email/" in text
    assert "/accounts/confirm-email/" in html
    outbound = OutboundEmail.objects.get(to="ada@example.com")
    assert outbound.status == OutboundEmail.Status.SENT
    assert outbound.text_body == ""
