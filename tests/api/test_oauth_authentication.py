"""The management API takes OAuth access tokens for itself: the permission per endpoint, 401
for anything that is not a live token of this API, and sessions keep working beside them."""

from __future__ import annotations

import json
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from provider.models import AccessToken
from provider.services.applications import set_disabled
from tests.api.oauth_world import TokenClient, backend
from tests.factories import UserFactory
from tests.organizations.conftest import signed_in
from tests.provider.conftest import invoices_api, signing_keys  # noqa: F401

USERS = "/api/v1/users/"


def test_a_token_with_users_read_reads_people(db):
    person = UserFactory(email="ada@example.com")
    caller = backend(scopes=["users:read"]).caller()
    response = caller.get(USERS, {"email": "ADA@example.com"})
    assert response.status_code == 200, response.content
    assert [row["id"] for row in response.json()["results"]] == [str(person.public_id)]


def test_a_token_with_users_read_cannot_write(db):
    person = UserFactory()
    caller = backend(scopes=["users:read"]).caller()
    response = caller.send("POST", f"{USERS}{person.public_id}/block/", {"reason": "fraud"})
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert "users:write" in response.json()["detail"]
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
    assert 'scope="users:write"' in response["WWW-Authenticate"]
    person.refresh_from_db()
    assert not person.is_blocked
    assert not AuditEvent.objects.filter(action="user.blocked").exists()


def test_a_token_for_another_api_is_401(db, invoices_api):  # noqa: F811
    app = backend(scopes=["users:read"])
    from provider.services.applications import allow_api

    allow_api(actor=None, application=app.application, api=invoices_api, scopes=["invoices:read"])
    token = app.token(resource=invoices_api.identifier)
    response = TokenClient(token).get(USERS)
    assert response.status_code == 401
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="Gatehouse", error="invalid_token"')
    assert response.json()["status"] == 401


def test_an_expired_token_is_401(db):
    caller = backend(scopes=["users:read"]).caller()
    AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert caller.get(USERS).status_code == 401


def test_a_revoked_token_is_401_at_once(db):
    app = backend(scopes=["users:read"])
    caller = app.caller()
    assert caller.get(USERS).status_code == 200
    response = caller.post(
        "/o/revoke_token/", {"token": caller.access_token}, HTTP_AUTHORIZATION=app.basic()
    )
    assert response.status_code == 200
    assert not AccessToken.objects.exists()
    assert caller.get(USERS).status_code == 401


def test_a_token_of_a_disabled_app_is_401(db):
    app = backend(scopes=["users:read"])
    caller = app.caller()
    set_disabled(actor=None, application=app.application, disabled=True, reason="leaked")
    assert caller.get(USERS).status_code == 401


def test_garbage_and_malformed_bearer_headers_are_401(db):
    for header in ("Bearer nonsense", "Bearer", "Bearer a b", "bearer \u00e9"):
        response = TokenClient("x").get(USERS, HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, header
        assert "invalid_token" in response["WWW-Authenticate"]


def test_a_token_is_checked_in_one_query(db):
    caller = backend(scopes=["users:read"]).caller()
    from provider.api.authentication import find_token

    with CaptureQueriesContext(connection) as queries:
        token = find_token(caller.access_token)
        assert token is not None
        assert token.application.organization is None
        assert token.api is not None
        assert token.api.system
        assert token.user is None
    assert len(queries) == 1


def test_an_endpoint_for_sessions_only_refuses_tokens(db):
    caller = backend().caller()
    response = caller.get("/api/v1/me/consents/")
    assert response.status_code == 403
    assert "session" in response.json()["detail"]


def test_no_header_falls_through_to_the_session(db):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client = signed_in(staff)
    assert client.get(USERS).status_code == 200
    # An anonymous call is told both ways to authenticate.
    response = TokenClient("x").get(USERS, HTTP_AUTHORIZATION="")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Session realm=")
    assert 'Bearer realm="Gatehouse"' in response["WWW-Authenticate"]


def test_a_session_without_the_staff_permission_is_403(db):
    client = signed_in(UserFactory())
    assert client.get(USERS).status_code == 403


def test_a_client_write_is_audited_as_the_client(db):
    person = UserFactory()
    app = backend(scopes=["users:write"])
    response = app.caller().send(
        "POST", f"{USERS}{person.public_id}/block/", {"reason": "chargeback fraud"}
    )
    assert response.status_code == 200, response.content
    event = AuditEvent.objects.get(action="user.blocked")
    assert event.actor is None
    assert event.actor_text == f"client {app.client_id}"
    assert json.loads(json.dumps(event.data))["reason"] == "chargeback fraud"


def person_token(user, scope: str) -> TokenClient:
    """A person's token for the management API. The authorization endpoint is not on this
    branch yet, so the row is written as the validator writes it: only the checksum kept."""
    import secrets

    from provider.management_api import management_api
    from provider.validator import GatehouseValidator

    app = backend(name="People's app", scopes=["users:read"])
    value = secrets.token_urlsafe(32)
    token = AccessToken(
        user=user,
        application=app.application,
        scope=scope,
        expires=timezone.now() + timedelta(minutes=5),
        api=management_api(),
    )
    GatehouseValidator()._set_token_value(token, value)
    token.save()
    return TokenClient(value)


def test_a_persons_token_lends_them_no_more_than_they_have(db):
    # An app people sign in to may hold users:read; a person without the staff permission
    # does not get it from the app's token.
    assert person_token(UserFactory(), "users:read").get(USERS).status_code == 403
    staff = UserFactory(is_staff=True, is_superuser=True)
    assert person_token(staff, "users:read").get(USERS).status_code == 200
    # And the token's scopes still bound the staff member.
    response = person_token(staff, "users:read").send("POST", USERS, {"email": "x@example.com"})
    assert response.status_code == 403


def test_a_blocked_or_deactivated_persons_token_is_401(db):
    staff = UserFactory(is_staff=True, is_superuser=True)
    caller = person_token(staff, "users:read")
    assert caller.get(USERS).status_code == 200
    User = type(staff)
    User.objects.filter(pk=staff.pk).update(is_blocked=True)
    assert caller.get(USERS).status_code == 401
    User.objects.filter(pk=staff.pk).update(is_blocked=False, is_active=False)
    assert caller.get(USERS).status_code == 401
