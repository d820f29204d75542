"""The refresh grant as written for speed (provider/validator/refresh.py): how many statements
it sends, and that the rules it folds together still hold (rotation, replay, a replay racing
the rotation, the idle limit, the API and its permissions, hashes only, the audit event).

Tokens are made as the code grant makes them (tests/provider/person_tokens.py), then used
through the real /o/token/ endpoint."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from provider.models import AccessToken, ApiAccess, IDToken, RefreshToken
from provider.validator import GatehouseValidator
from tests.conftest import require
from tests.provider.person_tokens import introspect, issue, refresh, web_app

SCOPES = ["invoices:read"]
# A refresh grant for an API: the client; the refresh token with its access token, person,
# API and the client's access to that API; the rotation with its audit event.
REFRESH_STATEMENTS = 3


def checksum(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def one_statement_writes() -> None:
    """The rotation is one statement on PostgreSQL; SQLite (the embedded mode) has no
    data-modifying WITH and writes the same rows one statement each, in a transaction."""
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")


def test_a_refresh_grant_sends_three_statements(client, person, app, invoices_api):
    one_statement_writes()
    tokens = issue(app, person, invoices_api, SCOPES)
    refresh(client, app, tokens["refresh_token"])  # warm: the first request's one-off reads
    tokens = issue(app, person, invoices_api, SCOPES)

    with CaptureQueriesContext(connection) as sent:
        response = refresh(client, app, tokens["refresh_token"])

    assert response.status_code == 200, response.content
    assert len(sent.captured_queries) <= REFRESH_STATEMENTS, "\n".join(
        query["sql"][:160] for query in sent.captured_queries
    )
    spent = RefreshToken.objects.get(token_checksum=checksum(tokens["refresh_token"]))
    assert spent.revoked is not None
    new = RefreshToken.objects.get(token_checksum=checksum(response.json()["refresh_token"]))
    assert new.revoked is None
    # The new pair carries the old one's person, client, API and sign-in context.
    for token in (new, new.access_token):
        assert (token.user, token.application_id, token.api) == (
            person,
            app.application.pk,
            invoices_api,
        )
        assert token.resource == [invoices_api.identifier]
        assert token.amr == spent.amr
    assert new.access_token.token_checksum == checksum(response.json()["access_token"])
    assert new.access_token.source_refresh_token_id == spent.pk
    assert not AccessToken.objects.filter(token_checksum=checksum(tokens["access_token"])).exists()


def test_an_openid_refresh_saves_its_id_token_in_the_same_statement(client, person, app):
    one_statement_writes()
    tokens = issue(app, person, None, ["openid"], sid="a-session")
    before = IDToken.objects.count()

    with CaptureQueriesContext(connection) as sent:
        response = refresh(client, app, tokens["refresh_token"])

    assert response.status_code == 200, response.content
    writes = [q["sql"] for q in sent.captured_queries if not q["sql"].startswith("SELECT")]
    assert len(writes) == 1, writes
    assert IDToken.objects.count() == before + 1
    access = AccessToken.objects.get(token_checksum=checksum(response.json()["access_token"]))
    assert access.id_token is not None
    assert access.id_token.sid == "a-session"
    assert access.id_token.user == person


def test_rotation_stores_hashes_only_and_audits_without_token_values(
    client, person, app, invoices_api
):
    tokens = issue(app, person, invoices_api, SCOPES)
    response = refresh(client, app, tokens["refresh_token"])
    body = response.json()

    new = RefreshToken.objects.get(token_checksum=checksum(body["refresh_token"]))
    assert (new.token, new.access_token.token) == ("", "")
    assert new.family_expires_at is not None
    event = AuditEvent.objects.filter(action="oauth.token_issued").latest("occurred_at")
    assert event.actor == person
    assert event.data["grant_type"] == "refresh_token"
    assert event.data["api"] == invoices_api.identifier
    for value in (body["access_token"], body["refresh_token"], tokens["refresh_token"]):
        assert value not in str(event.data)


def test_a_replay_is_audited_and_ends_the_family(client, person, app, rs, invoices_api):
    tokens = issue(app, person, invoices_api, SCOPES)
    rotated = refresh(client, app, tokens["refresh_token"]).json()

    replay = refresh(client, app, tokens["refresh_token"])

    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert introspect(client, rs, rotated["access_token"]) == {"active": False}
    [event] = AuditEvent.objects.filter(action="oauth.refresh_replayed")
    assert event.data["ended"] == {"access": 1, "refresh": 1}
    assert event.data["client_id"] == app.application.client_id
    assert tokens["refresh_token"] not in str(event.data)
    # The family is already dead: presenting it again ends nothing and records nothing.
    assert refresh(client, app, rotated["refresh_token"]).status_code == 400
    assert AuditEvent.objects.filter(action="oauth.refresh_replayed").count() == 1


def test_a_replay_racing_the_rotation_ends_the_family(
    client, person, app, rs, invoices_api, monkeypatch
):
    """Two requests present the same refresh token at once: both read it live, the other one
    rotates first. This one then finds it spent, writes nothing and ends the family, the
    other request's new tokens included."""
    tokens = issue(app, person, invoices_api, SCOPES)
    validate = GatehouseValidator.validate_refresh_token
    raced: list[dict] = []
    racing: list[bool] = []

    def validate_then_lose_the_race(self, *args, **kwargs):
        valid = validate(self, *args, **kwargs)
        if not racing:
            racing.append(True)  # the other request validates as usual
            other = refresh(Client(), app, tokens["refresh_token"])
            assert other.status_code == 200, other.content
            raced.append(other.json())
        return valid

    monkeypatch.setattr(GatehouseValidator, "validate_refresh_token", validate_then_lose_the_race)
    before = AccessToken.objects.count()

    response = refresh(client, app, tokens["refresh_token"])

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert response["Cache-Control"] == "no-store"
    monkeypatch.undo()
    [winner] = raced
    assert introspect(client, rs, winner["access_token"]) == {"active": False}
    assert refresh(client, app, winner["refresh_token"]).status_code == 400
    assert not RefreshToken.objects.filter(user=person, revoked__isnull=True).exists()
    # The winner's pair was written and then ended; the loser wrote nothing.
    assert AccessToken.objects.count() == before - 1
    [event] = AuditEvent.objects.filter(action="oauth.refresh_replayed")
    assert event.data["ended"] == {"access": 1, "refresh": 1}


def test_refresh_past_the_idle_limit_is_refused(client, person, app, invoices_api):
    tokens = issue(app, person, invoices_api, SCOPES)
    idle = timedelta(seconds=settings.OAUTH2_PROVIDER["REFRESH_TOKEN_EXPIRE_SECONDS"])
    AccessToken.objects.filter(user=person).update(
        expires=timezone.now() - idle - timedelta(seconds=1)
    )
    response = refresh(client, app, tokens["refresh_token"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert RefreshToken.objects.filter(user=person, revoked__isnull=True).count() == 1


def test_refresh_stops_once_a_permission_is_taken_away(client, person, app, invoices_api):
    tokens = issue(app, person, invoices_api, ["invoices:read"])
    ApiAccess.objects.filter(application=app.application).update(scopes=["invoices:write"])
    response = refresh(client, app, tokens["refresh_token"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_refresh_for_another_resource_is_invalid_target(
    client, person, app, invoices_api, reports_api
):
    tokens = issue(app, person, invoices_api, SCOPES)
    response = client.post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "resource": reports_api.identifier,
        },
        HTTP_AUTHORIZATION=app.basic(),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"
    assert RefreshToken.objects.get(user=person).revoked is None


def test_a_refresh_token_of_another_client_is_refused_and_stays_live(
    client, person, app, invoices_api
):
    tokens = issue(app, person, invoices_api, SCOPES)
    other = web_app(name="Other web", api=invoices_api, scopes=SCOPES)
    response = refresh(client, other, tokens["refresh_token"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert refresh(client, app, tokens["refresh_token"]).status_code == 200
