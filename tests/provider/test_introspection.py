"""Introspection as written for speed (provider/views/endpoints.py, its token read compiled once
per process by provider/validator/compiled.py): how many statements it sends, and that every
rule of the answer still holds with the statement reused across requests.

Tokens are made as the code grant makes them (tests/provider/person_tokens.py), then asked
about through the real /o/introspect/ endpoint."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import services as accounts
from provider.models import AccessToken
from provider.services.applications import create_application, set_disabled
from tests.conftest import require
from tests.factories import UserFactory
from tests.provider.person_tokens import (
    INTROSPECT,
    App,
    introspect,
    issue,
    resource_server,
)

SCOPES = ["invoices:read"]
# The introspecting client (its HMAC-checked secret), then the token with everything the
# answer says, refused in the same statement unless this client may introspect its API.
INTROSPECTION_STATEMENTS = 2


def test_introspection_sends_two_statements_and_writes_nothing(
    client, person, app, rs, invoices_api
):
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    warm = issue(app, person, invoices_api, SCOPES)
    introspect(client, rs, warm["access_token"])  # the first request's one-off reads
    tokens = issue(app, person, invoices_api, SCOPES)

    with CaptureQueriesContext(connection) as sent:
        answer = introspect(client, rs, tokens["access_token"])

    assert answer["active"] is True
    sql = [query["sql"] for query in sent.captured_queries]
    assert len(sql) == INTROSPECTION_STATEMENTS, "\n".join(s[:160] for s in sql)
    assert all(s.startswith("SELECT") for s in sql), sql


def test_each_request_gets_its_own_tokens_answer(client, person, invoices_api, app, rs):
    """The statement is compiled once: the second token's answer is the second token's."""
    other = UserFactory(email="olu@person.example")
    first = issue(app, person, invoices_api, SCOPES)
    second = issue(app, other, invoices_api, SCOPES)

    one = introspect(client, rs, first["access_token"])
    two = introspect(client, rs, second["access_token"])

    assert one["sub"] == str(person.public_id)
    assert two["sub"] == str(other.public_id)
    for answer in (one, two):
        assert answer["active"] is True
        assert answer["aud"] == invoices_api.identifier
        assert answer["client_id"] == app.application.client_id
        assert answer["scope"] == "invoices:read"
        assert answer["exp"] > answer["iat"]
        assert "username" not in answer
        assert "email" not in answer


def test_an_expired_token_is_inactive(client, person, app, rs, invoices_api):
    tokens = issue(app, person, invoices_api, SCOPES)
    assert introspect(client, rs, tokens["access_token"])["active"] is True
    AccessToken.objects.filter(user=person).update(expires=timezone.now() - timedelta(seconds=1))

    assert introspect(client, rs, tokens["access_token"]) == {"active": False}


def test_a_token_of_a_disabled_app_is_inactive(client, person, app, rs, invoices_api):
    tokens = issue(app, person, invoices_api, SCOPES)
    set_disabled(actor=None, application=app.application, disabled=True, reason="test")

    assert introspect(client, rs, tokens["access_token"]) == {"active": False}


def test_a_blocked_persons_token_is_inactive(client, person, app, rs, invoices_api):
    tokens = issue(app, person, invoices_api, SCOPES)
    staff = UserFactory(email="support@gatehouse.example", is_staff=True)
    accounts.block_user(user=person, actor=staff, reason="test")

    assert introspect(client, rs, tokens["access_token"]) == {"active": False}


def test_another_apis_introspector_learns_nothing(client, person, app, invoices_api, reports_api):
    tokens = issue(app, person, invoices_api, SCOPES)
    reports_server = resource_server(reports_api)

    assert introspect(client, reports_server, tokens["access_token"]) == {"active": False}


def test_a_client_no_api_lists_learns_nothing(client, person, app, invoices_api):
    tokens = issue(app, person, invoices_api, SCOPES)
    stranger = create_application(
        actor=None, name="Stranger", kind="web", redirect_uris=["https://s.example/cb"]
    )
    assert stranger.client_secret

    answer = introspect(
        client, App(stranger.application, stranger.client_secret), tokens["access_token"]
    )

    assert answer == {"active": False}


def test_a_wrong_secret_is_refused_with_401(client, person, app, rs, invoices_api):
    tokens = issue(app, person, invoices_api, SCOPES)
    wrong = App(rs.application, "not-the-secret")

    response = client.post(
        INTROSPECT, {"token": tokens["access_token"]}, HTTP_AUTHORIZATION=wrong.basic()
    )

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}
