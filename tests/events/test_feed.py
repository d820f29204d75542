"""The events feed (/api/v1/events): in commit order, resuming exactly after its cursor; an
organization's app sees only its organization; bad input is a 400 problem, an expired cursor
410."""

from __future__ import annotations

import base64
import importlib
import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from audit.actions import Action
from audit.services import record
from events import cursors
from events.models import Event
from events.tasks import prune_events
from organizations import services as org_services
from provider.management_api import PERMISSIONS, management_api
from provider.models import Api
from tests.api.oauth_world import backend
from tests.conftest import require
from tests.events.helpers import read_all, wait_for_horizon
from tests.factories import UserFactory
from tests.organizations.conftest import signed_in

pytestmark = pytest.mark.django_db(transaction=True)
FEED = "/api/v1/events"


def two_orgs():
    a = org_services.create_organization(actor=UserFactory(), name="Acme", slug="acme")
    b = org_services.create_organization(actor=UserFactory(), name="Bolt", slug="bolt")
    return a, b


def blocked(n: int) -> list[str]:
    """``n`` events (user.blocked), each in its own transaction; their public ids in order."""
    ids = []
    for _ in range(n):
        user = UserFactory()
        record(Action.USER_BLOCKED, actor=user, target=user)
        ids.append(Event.objects.get(subject_id=str(user.pk), type="user.blocked").public_id)
    return ids


def operator():
    return backend(scopes=["events:read"]).caller()


def test_the_scope_migration_adds_events_read_to_an_existing_api_row():
    """The API row is created once (migration 0002), so the new permission reaches existing
    databases through migration 0004 (T21), which keeps what the row already had."""
    from django.apps import apps

    migration = importlib.import_module("provider.migrations.0004_events_read_scope")
    api = management_api()
    Api.objects.filter(pk=api.pk).update(scopes={"users:read": "Read people"})

    migration.add_scope(apps, None)
    migration.add_scope(apps, None)  # a second run changes nothing

    scopes = Api.objects.get(pk=api.pk).scopes
    assert scopes == {"users:read": "Read people", "events:read": migration.DESCRIPTION}
    assert "events:read" in PERMISSIONS


def test_pages_resume_exactly_after_their_cursor():
    caller = operator()
    first = blocked(7)
    wait_for_horizon()

    test_event = Event.objects.create(type="webhook.test")  # one endpoint's, not the feed's
    wait_for_horizon()
    seen, cursor = read_all(caller, limit=3)
    expected = list(
        Event.objects.exclude(pk=test_event.pk)
        .order_by("txid", "id")
        .values_list("public_id", flat=True)
    )
    assert seen == expected
    assert seen[-7:] == first

    # Nothing new: the same cursor comes back, with an empty page.
    response = caller.get(f"{FEED}?after={cursor}")
    body = response.json()
    assert {k: v for k, v in body.items() if k != "sealed"} == {
        "data": [],
        "next_cursor": cursor,
        "has_more": False,
    }
    assert body["sealed"]["chain"] is None  # the operator: every chain (tests/audit/chain)

    later = blocked(4)
    wait_for_horizon()
    more, _ = read_all(caller, limit=2, after=cursor)
    assert more == later


def test_concurrent_writers_lose_nothing_and_repeat_nothing():
    # Writers in other threads need a database that takes them (SQLite's in-memory test
    # database locks whole tables across threads).
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    caller = operator()
    stop = threading.Event()

    def writer() -> None:
        try:
            while not stop.is_set():
                user = UserFactory()
                record(Action.USER_BLOCKED, actor=user, target=user)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    seen: list[str] = []
    cursor = None
    try:
        for _ in range(15):
            page, cursor = read_all(caller, limit=4, after=cursor)
            seen += page
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    wait_for_horizon()
    rest, _ = read_all(caller, limit=50, after=cursor)
    seen += rest

    assert len(seen) == len(set(seen)), "an event was handed out twice"
    assert set(seen) == set(Event.objects.values_list("public_id", flat=True))
    assert len(seen) > 10


def test_an_organizations_app_sees_only_its_organizations_events():
    a, _ = two_orgs()
    blocked(2)  # Gatehouse-wide events: no organization's
    wait_for_horizon()
    a_app = backend(organization=a, scopes=["events:read"]).caller()

    seen, _ = read_all(a_app, limit=5)
    expected = Event.objects.filter(organization_id=a.pk).order_by("txid", "id")
    assert seen == list(expected.values_list("public_id", flat=True))
    assert seen
    assert all(e.organization_id == a.pk for e in Event.objects.filter(public_id__in=seen))
    # The whole feed, for the operator: both organizations and the Gatehouse-wide events.
    everything, operator_cursor = read_all(operator(), limit=50)
    assert set(everything) == set(Event.objects.values_list("public_id", flat=True))
    # A cursor taken from the operator's feed (past B's events) leaks nothing of B either.
    response = a_app.get(f"{FEED}?after={cursors.encode((0, 0))}&limit=100")
    body = response.content.decode()
    assert "bolt" not in body
    assert "Bolt" not in body
    assert response.json()["data"]
    assert all(event["organization_id"] == a.pk for event in response.json()["data"])
    response = a_app.get(f"{FEED}?after={operator_cursor}")
    assert response.json()["data"] == []


def test_who_may_read_the_feed():
    blocked(1)
    wait_for_horizon()
    assert Client().get(FEED).status_code == 401
    person = UserFactory()
    assert signed_in(person).get(FEED).status_code == 403
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_event"))
    response = signed_in(staff).get(FEED)
    assert response.status_code == 200
    # The blocked user's event first, then sign-ins (the ones the horizon has passed).
    types = [e["type"] for e in response.json()["data"]]
    assert types[0] == "user.blocked"
    assert set(types[1:]) <= {"session.started"}
    response = backend(scopes=["users:read"]).caller().get(FEED)
    assert response.status_code == 403
    assert 'scope="events:read"' in response["WWW-Authenticate"]


@pytest.mark.parametrize(
    "query",
    [
        "after=",
        "after=not-a-cursor",
        "after=" + base64.urlsafe_b64encode(b"v2.1.2").decode().rstrip("="),
        "after=" + base64.urlsafe_b64encode(b"v1.01.2").decode().rstrip("="),
        "after=" + base64.urlsafe_b64encode(b"v1.-1.2").decode().rstrip("="),
        "after=" + base64.urlsafe_b64encode(b"v1.1.99999999999999999999").decode().rstrip("="),
        "after=" + base64.urlsafe_b64encode(b"v1.1.2").decode() + "==",
        "after=%00%ff",
        "after=" + "A" * 500,
        "limit=0",
        "limit=101",
        "limit=ten",
        "limit=-1",
        "types=user.nonsense",
        "types=,",
    ],
)
def test_bad_input_is_a_400_problem(query):
    response = operator().get(f"{FEED}?{query}")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 400


def test_types_filter_keeps_the_cursor_moving():
    two_orgs()
    blocked(3)
    wait_for_horizon()
    response = operator().get(f"{FEED}?types=organization.created&limit=100")
    body = response.json()
    assert [e["type"] for e in body["data"]] == ["organization.created"] * 2
    # The cursor moved past the events it skipped: nothing is left to read.
    assert operator().get(f"{FEED}?after={body['next_cursor']}").json()["data"] == []


def test_a_cursor_older_than_retention_is_told_so():
    caller = operator()
    old = blocked(3)
    Event.objects.filter(public_id__in=old[:2]).update(
        occurred_at=timezone.now() - timedelta(days=31)
    )
    wait_for_horizon()
    first_page = caller.get(f"{FEED}?limit=1").json()
    stale = first_page["next_cursor"]

    assert prune_events() == 2
    assert list(Event.objects.values_list("public_id", flat=True)) == old[2:]

    response = caller.get(f"{FEED}?after={stale}")
    assert response.status_code == 410
    assert response["Content-Type"] == "application/problem+json"
    # Starting again without a cursor works, from the oldest kept event.
    assert [e["id"] for e in caller.get(FEED).json()["data"]] == old[2:]
    assert prune_events() == 0
