"""The audit log is append-only, redacted, and readable (never writable) in the admin."""

from __future__ import annotations

from typing import cast

import pytest
from django.test import Client

from audit.actions import Action, Outcome
from audit.models import AuditEvent, AuditLogIsAppendOnly
from audit.services import record
from tests.conftest import force_login_verified
from tests.factories import UserFactory


def test_record_stores_a_standalone_row(user):
    event = record(Action.USER_BLOCKED, actor=user, target=user, data={"reason": "test"})

    event = AuditEvent.objects.get(pk=event.pk)
    assert event.action == "user.blocked"
    assert event.outcome == "success"
    assert event.actor_text == user.email
    assert (event.target_type, event.target_id, event.target_text) == (
        "user",
        str(user.pk),
        user.email,
    )


def test_secrets_are_redacted_at_any_depth():
    event = record(
        Action.LOGIN_FAILED,
        actor_text="someone",
        outcome=Outcome.FAILURE,
        data={
            "password": "hunter2hunter2",
            "nested": {"api_token": "abc", "note": "fine"},
            "items": [{"client_secret": "s3cr3t"}],
        },
    )

    assert event.data == {
        "password": "[redacted]",
        "nested": {"api_token": "[redacted]", "note": "fine"},
        "items": [{"client_secret": "[redacted]"}],
    }


def test_unknown_action_names_are_refused():
    with pytest.raises(ValueError, match="not a valid Action"):
        record(cast(Action, "user.teleported"), actor_text="x")


def test_events_cannot_be_updated_or_deleted(user):
    event = record(Action.LOGOUT, actor=user)

    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(action="logout")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_request_id_from_the_edge_is_kept_when_well_formed(client, user, password):
    client.post(
        "/accounts/login/",
        {"login": user.email, "password": password},
        HTTP_X_REQUEST_ID="edge-req-0001",
    )
    assert AuditEvent.objects.get(action="login.succeeded").request_id == "edge-req-0001"


def test_request_id_that_is_not_an_id_is_replaced(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="<script>alert(1)</script>")
    assert response["X-Request-ID"] != "<script>alert(1)</script>"
    assert len(response["X-Request-ID"]) == 32


@pytest.fixture
def staff_client() -> Client:
    client = Client()
    force_login_verified(client, UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_lists_and_filters_events_but_cannot_change_them(staff_client, user):
    record(Action.USER_BLOCKED, actor=user, target=user)
    kept = record(Action.LOGOUT, actor=user, target=user)

    listing = staff_client.get("/admin/audit/auditevent/", {"action__exact": "logout"})
    assert listing.status_code == 200
    assert [e.pk for e in listing.context["cl"].result_list] == [kept.pk]

    detail = staff_client.get(f"/admin/audit/auditevent/{kept.pk}/change/")
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    assert staff_client.get("/admin/audit/auditevent/add/").status_code == 403
    assert staff_client.get(f"/admin/audit/auditevent/{kept.pk}/delete/").status_code == 403
    staff_client.post(f"/admin/audit/auditevent/{kept.pk}/change/", {"action": "login.failed"})
    assert AuditEvent.objects.get(pk=kept.pk).action == "logout"


def test_deleting_a_user_keeps_who_acted_on_their_events(user):
    event = record(Action.LOGOUT, actor=user, target=user)
    user_pk, email = user.pk, user.email

    user.delete()

    event = AuditEvent.objects.get(pk=event.pk)
    assert event.actor_id == user_pk
    assert event.actor_text == email


def test_database_refuses_raw_updates_and_deletes_of_events(user):
    from django.db import DatabaseError, connection, transaction

    from tests.conftest import require

    require(connection.vendor == "postgresql", "PostgreSQL (the trigger is PostgreSQL's)")
    event = record(Action.LOGOUT, actor=user, target=user)
    for sql in (
        "UPDATE audit_auditevent SET action = 'login.failed' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match=r"append-only|permission denied"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "logout"
