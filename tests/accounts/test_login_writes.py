"""A login's rows (last login time, audit event, the session's row) are written once each, in
one statement where the database allows it, and not at all when the login fails."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import login_writes, services, user_sessions
from accounts.models import User
from audit.actions import Action
from audit.models import AuditEvent
from audit.services import collected, record
from events.models import Event
from tests.accounts.work import writes
from tests.conftest import require
from tests.factories import DEFAULT_PASSWORD, UserFactory

LOGIN_ROWS = {"UPDATE accounts_user", "INSERT audit_auditevent", "INSERT usersessions_usersession"}


def login(client: Client, email: str, password: str = DEFAULT_PASSWORD):
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_a_login_writes_each_of_its_rows_once(user):
    client = Client(HTTP_USER_AGENT="Laptop Firefox", REMOTE_ADDR="198.51.100.4")
    before = timezone.now()

    with CaptureQueriesContext(connection) as queries:
        response = login(client, user.email)

    assert response.status_code == 302
    written = [kind for q in queries.captured_queries for kind in writes(q["sql"])]
    assert sorted(kind for kind in written if kind in LOGIN_ROWS) == [
        "INSERT audit_auditevent",
        "INSERT usersessions_usersession",
        "UPDATE accounts_user",
    ]
    user.refresh_from_db()
    assert user.last_login is not None
    assert before <= user.last_login <= timezone.now()
    event = AuditEvent.objects.get(action="login.succeeded")
    assert (event.actor_id, event.target_id) == (user.pk, str(user.pk))
    assert event.data["method"] == "password"
    assert event.data["risk"]["first_sign_in"] is True  # accounts/takeover/
    assert (event.ip, event.user_agent) == ("198.51.100.4", "Laptop Firefox")
    assert event.request_id == response["X-Request-ID"]
    [row] = UserSession.objects.filter(user=user)
    assert row.session_key == client.session.session_key
    assert (row.ip, row.user_agent) == ("198.51.100.4", "Laptop Firefox")
    assert row.created_at == row.last_seen_at


def test_on_postgresql_the_rows_go_in_one_statement(user):
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    with CaptureQueriesContext(connection) as queries:
        assert login(Client(), user.email).status_code == 302

    statements = [q["sql"] for q in queries.captured_queries if set(writes(q["sql"])) & LOGIN_ROWS]
    assert len(statements) == 1
    assert statements[0].startswith("WITH ")


def test_each_login_adds_its_own_rows(user):
    first, second = Client(HTTP_USER_AGENT="Laptop"), Client(HTTP_USER_AGENT="Phone")
    login(first, user.email)
    user.refresh_from_db()
    first_login = user.last_login

    login(second, user.email)

    user.refresh_from_db()
    assert user.last_login > first_login
    assert AuditEvent.objects.filter(action="login.succeeded").count() == 2
    keys = set(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    assert keys == {first.session.session_key, second.session.session_key}


@pytest.mark.django_db(transaction=True)
def test_a_login_that_fails_before_its_end_writes_none_of_its_rows(user, monkeypatch):
    """The rows are gathered during the login and written at its end, in its transaction:
    a failure on the way leaves no last login time, no audit event and no session row."""

    def fails_after_gathering(request, user):
        real_record(request, user)
        raise RuntimeError("the session store went away")

    real_record = user_sessions.record_login_session
    monkeypatch.setattr(user_sessions, "record_login_session", fails_after_gathering)
    client = Client(raise_request_exception=True)

    with pytest.raises(RuntimeError):
        login(client, user.email)

    user.refresh_from_db()
    assert user.last_login is None
    assert not AuditEvent.objects.filter(action="login.succeeded").exists()
    assert not UserSession.objects.exists()


def test_refused_logins_write_no_login_rows(user):
    blocked = UserFactory()
    services.block_user(user=blocked, actor=UserFactory(is_staff=True), reason="fraud")

    assert login(Client(), user.email, "not the password").status_code == 200
    assert login(Client(), blocked.email).status_code == 403

    assert not User.objects.filter(last_login__isnull=False).exists()
    assert not AuditEvent.objects.filter(action="login.succeeded").exists()
    assert not UserSession.objects.exists()
    assert AuditEvent.objects.filter(action="login.failed").count() == 1
    assert AuditEvent.objects.filter(action="login.blocked").count() == 1


def test_a_login_outside_the_adapter_still_writes_last_login_and_its_event(user):
    """Django's ``login()`` called directly (``force_login``) writes at once, as before."""
    Client().force_login(user)

    user.refresh_from_db()
    assert user.last_login is not None
    assert AuditEvent.objects.filter(action="login.succeeded", actor_id=user.pk).count() == 1


def test_an_unverified_login_address_is_sent_to_verification_not_signed_in(client):
    user = UserFactory(verified=False)

    response = login(client, user.email)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    assert "_auth_user_id" not in client.session
    user.refresh_from_db()
    assert user.last_login is None
    assert not UserSession.objects.exists()


def test_an_unverified_second_address_is_not_trusted_for_login(client, user):
    EmailAddress.objects.create(user=user, email="second@example.com", verified=False)

    response = login(client, "Second@Example.com")

    assert response["Location"] == "/accounts/confirm-email/"
    assert "_auth_user_id" not in client.session


def test_audit_events_recorded_while_collecting_are_written_by_the_collector(user):
    with collected() as events:
        event = record(Action.LOGOUT, actor=user, target=user)
        assert not AuditEvent.objects.exists()

    # The audit event, then its outbox row (events/registry.py), both left to the collector.
    [first, outbox] = events
    assert first is event
    assert isinstance(outbox, Event)
    assert (outbox.type, outbox.audit_event_id) == ("session.ended", event.pk)
    assert not Event.objects.exists()
    login_writes.write(last_login=None, rows=events)
    stored = AuditEvent.objects.get()
    assert (stored.pk, stored.action, stored.actor_id) == (event.pk, "logout", user.pk)
    assert Event.objects.get().audit_event_id == event.pk
    assert not event._state.adding  # written: the model refuses to save it a second time


def test_outside_a_collector_record_writes_at_once(user):
    with collected():
        pass
    record(Action.LOGOUT, actor=user, target=user)

    assert AuditEvent.objects.count() == 1


def test_written_rows_hold_what_the_orm_would_have_written(user):
    """Values are prepared as the ORM's save prepares them (JSON, addresses, defaults)."""
    user.last_login = timezone.now() - timedelta(days=1)
    event = AuditEvent(
        action="login.succeeded",
        actor=user,
        actor_text=str(user),
        ip="2001:db8::1",
        data={"method": "password", "nested": {"list": [1, "two"]}},
    )
    session = UserSession(session_key="k" * 32, user=user, ip="192.0.2.1", user_agent="UA")

    login_writes.write(last_login=user, rows=[event, session])

    assert User.objects.get(pk=user.pk).last_login == user.last_login
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.data == {"method": "password", "nested": {"list": [1, "two"]}}
    assert (stored.ip, stored.occurred_at) == ("2001:db8::1", event.occurred_at)
    row = UserSession.objects.get(session_key="k" * 32)
    assert (row.user_id, row.ip, row.user_agent) == (user.pk, "192.0.2.1", "UA")
