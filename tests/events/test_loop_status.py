"""The pipeline loop's horizon lag and heartbeat (docs/events.md, T2) are visible: in the
details of ``/readyz``, which stays ready whatever the loop does, and above the webhook admin's
lists. The lag is measured from a real transaction holding the horizon back."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone

from audit.actions import Action
from audit.services import record
from events import dispatch, loop_status
from events.models import Event, PipelineCursor
from tests.conftest import force_login_verified, require
from tests.events.helpers import wait_for_horizon
from tests.factories import UserFactory

ENDPOINTS = "/admin/events/webhookendpoint/"
DELIVERIES = "/admin/events/delivery/"


@pytest.fixture(autouse=True)
def _with_a_loop(settings):
    """A deployment with a broker, where the loop runs (embedded mode has none)."""
    settings.CELERY_TASK_ALWAYS_EAGER = False


def heartbeat(*, lag_ms: int, age: timedelta) -> PipelineCursor:
    return PipelineCursor.objects.create(
        stage="dispatch", horizon_lag_ms=lag_ms, updated_at=timezone.now() - age
    )


def loop_details(client: Client) -> dict[str, object]:
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}
    return body["details"]["events_loop"]


def staff() -> Client:
    client = Client()
    force_login_verified(client, UserFactory(is_staff=True, is_superuser=True))
    return client


def loop_line(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    start = page.index('id="events-loop"')
    return page[page.index(">", start) + 1 : page.index("</li>", start)]


@pytest.mark.django_db
def test_readyz_details_show_the_dispatch_cursors_lag_and_heartbeat_in_one_query(
    client, django_assert_num_queries
):
    beat = heartbeat(lag_ms=1234, age=timedelta(seconds=7))
    with django_assert_num_queries(2):  # the database check, and the heartbeat's row
        details = loop_details(client)
    assert details["state"] == "ok"
    assert details["horizon_lag_ms"] == 1234
    assert details["heartbeat_age_s"] in (7, 8)
    assert details["heartbeat_at"] == beat.updated_at.isoformat()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lag_ms", "age", "state"),
    [
        (90_000, timedelta(seconds=3), "lagging"),
        (0, timedelta(minutes=10), "stopped"),
        (90_000, timedelta(minutes=10), "stopped"),
    ],
)
def test_a_lagging_or_stopped_loop_is_reported_and_readyz_stays_ready(client, lag_ms, age, state):
    heartbeat(lag_ms=lag_ms, age=age)
    details = loop_details(client)  # 200 and "ok": the loop does not decide readiness
    assert details["state"] == state
    assert details["horizon_lag_ms"] == lag_ms


@pytest.mark.django_db
def test_readyz_says_when_the_loop_never_ran(client):
    assert loop_details(client) == {
        "state": "not_started",
        "horizon_lag_ms": None,
        "heartbeat_age_s": None,
        "heartbeat_at": None,
    }


@pytest.mark.django_db
def test_readyz_says_the_embedded_mode_has_no_loop(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    heartbeat(lag_ms=0, age=timedelta(hours=1))  # an old pass after a commit: no alarm
    assert loop_details(client)["state"] == "embedded"


@pytest.mark.django_db
def test_both_webhook_admin_lists_open_with_the_loops_state():
    heartbeat(lag_ms=1234, age=timedelta(seconds=7))
    client = staff()
    for url in (ENDPOINTS, DELIVERIES):
        line = loop_line(client, url)
        assert line.startswith("Pipeline loop running: horizon lag 1.2 s, last heartbeat ")
        assert "s ago." in line
    PipelineCursor.objects.filter(stage="dispatch").update(
        updated_at=timezone.now() - timedelta(minutes=10)
    )
    response = client.get(DELIVERIES)
    assert 'class="warning" id="events-loop"' in response.content.decode()
    assert loop_line(client, DELIVERIES).startswith("Pipeline loop not running: ")
    assert "last heartbeat 600 s ago" in loop_line(client, ENDPOINTS)


@pytest.mark.django_db
def test_the_admin_line_says_when_the_loop_never_ran():
    assert "has never run" in loop_line(staff(), DELIVERIES)


@pytest.mark.django_db(transaction=True)
def test_a_transaction_left_open_shows_as_lag_in_readyz_and_the_admin(client, monkeypatch):
    """Another session holds a transaction id and stays open: an event committed after it waits
    below the horizon, and the dispatch stage measures how long. Once it ends, the event goes
    and the lag falls back to nothing."""
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    monkeypatch.setattr(dispatch, "_busy", False)
    # Measure on every dispatch pass here, not every HEARTBEAT.
    monkeypatch.setattr(dispatch, "HEARTBEAT", timedelta(0))
    # A second of lag counts as lagging, so that the test need not wait a minute.
    monkeypatch.setattr(loop_status, "LAGGING_AFTER", timedelta(seconds=1))
    holding, release, done = threading.Event(), threading.Event(), threading.Event()

    def idle_in_transaction() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_current_xact_id()")  # takes a transaction id
                holding.set()
                release.wait(60)
        finally:
            connections.close_all()
            done.set()

    person = UserFactory()
    thread = threading.Thread(target=idle_in_transaction)
    thread.start()
    try:
        assert holding.wait(30)
        record(Action.USER_BLOCKED, actor=person, target=person)
        held = Event.objects.get(subject_id=str(person.pk))
        time.sleep(1.5)

        assert dispatch.dispatch() == 0  # held back by the open transaction

        cursor = PipelineCursor.objects.get(stage="dispatch")
        assert cursor.horizon_lag_ms >= 1500
        details = loop_details(client)
        assert details["state"] == "lagging"
        assert details["horizon_lag_ms"] == cursor.horizon_lag_ms
        line = loop_line(staff(), DELIVERIES)
        assert line.startswith(
            f"Pipeline loop running, but events are held back: horizon lag "
            f"{cursor.horizon_lag_ms / 1000:.1f} s"
        )
        assert "idle in transaction" in line
    finally:
        release.set()
        thread.join(30)
    assert done.is_set()

    wait_for_horizon()
    assert dispatch.dispatch() >= 1
    cursor = PipelineCursor.objects.get(stage="dispatch")
    assert held.txid is not None
    assert (cursor.txid, int(cursor.last_id)) >= (held.txid, held.pk)
    assert cursor.horizon_lag_ms == 0
    assert loop_details(client)["state"] == "ok"
