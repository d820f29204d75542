"""Operators manage OAuth applications and APIs through the management API, with a staff
session or a token holding clients:read / clients:write. A secret is shown once (on creation
and on rotation) and never again; a token cannot grant more than it holds."""

from __future__ import annotations

import base64

from django.test import Client

from audit.models import AuditEvent
from provider.management_api import management_api
from provider.models import Application
from tests.api.oauth_world import backend
from tests.factories import UserFactory
from tests.organizations.conftest import signed_in

APPS = "/api/v1/applications/"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def token_status(client_id: str, secret: str) -> int:
    response = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials", "resource": management_api().identifier},
        HTTP_AUTHORIZATION=basic(client_id, secret),
    )
    return int(response.status_code)


def test_a_backend_registers_an_app_and_sees_its_secret_once(db):
    operator = backend(scopes=["clients:write", "clients:read", "users:read"])
    caller = operator.caller()
    response = caller.send(
        "POST",
        APPS,
        {
            "name": "Nightly sync",
            "kind": "m2m",
            "apis": {management_api().identifier: ["users:read"]},
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    secret = body["client_secret"]
    assert len(secret) >= 40
    assert body["apis"] == [{"api": management_api().identifier, "scopes": ["users:read"]}]
    # The secret works at the token endpoint, and is never readable again.
    assert token_status(body["client_id"], secret) == 200
    detail = caller.get(f"{APPS}{body['client_id']}/")
    assert detail.status_code == 200
    assert "client_secret" not in detail.json()
    assert secret not in caller.get(APPS).content.decode()
    assert secret not in str(list(AuditEvent.objects.values_list("data", flat=True)))
    event = AuditEvent.objects.get(
        action="oauth.app_created",
        target_id=str(Application.objects.get(client_id=body["client_id"]).pk),
    )
    assert event.actor_text == f"client {operator.client_id}"
    assert event.actor is None


def test_rotation_returns_the_new_secret_once_and_ends_the_old_one(db):
    caller = backend(scopes=["clients:write", "clients:read"]).caller()
    created = caller.send("POST", APPS, {"name": "Worker", "kind": "m2m"}).json()
    old = created["client_secret"]
    response = caller.send("POST", f"{APPS}{created['client_id']}/secret/", {"overlap_seconds": 0})
    assert response.status_code == 200, response.content
    new = response.json()["client_secret"]
    assert new != old
    # The worker has no API access, so a token request is refused for its target, not its
    # secret: the old secret is an invalid_client, the new one is not.
    assert token_status(created["client_id"], old) == 401
    assert token_status(created["client_id"], new) != 401


def test_a_token_with_clients_read_cannot_register(db):
    caller = backend(scopes=["clients:read"]).caller()
    before = Application.objects.count()
    response = caller.send("POST", APPS, {"name": "Sneaky", "kind": "m2m"})
    assert response.status_code == 403
    assert Application.objects.count() == before
    assert caller.get(APPS).status_code == 200


def test_a_token_cannot_grant_permissions_it_does_not_hold(db):
    caller = backend(scopes=["clients:write"]).caller()
    before = Application.objects.count()
    response = caller.send(
        "POST",
        APPS,
        {
            "name": "Escalator",
            "kind": "m2m",
            "apis": {management_api().identifier: ["users:write"]},
        },
    )
    assert response.status_code == 403, response.content
    assert "users:write" in response.json()["detail"]
    assert Application.objects.count() == before


def test_disabling_an_app_kills_its_management_api_tokens(db):
    operator = backend(scopes=["clients:write", "clients:read"]).caller()
    victim = backend(name="Compromised", scopes=["users:read"])
    victim_caller = victim.caller()
    assert victim_caller.get("/api/v1/users/").status_code == 200
    response = operator.send("POST", f"{APPS}{victim.client_id}/disable/", {"reason": "leaked"})
    assert response.status_code == 200, response.content
    assert response.json()["disabled"] is True
    assert victim_caller.get("/api/v1/users/").status_code == 401
    assert operator.send("POST", f"{APPS}{victim.client_id}/disable/", {}).status_code == 400


def test_an_organization_bound_app_manages_only_its_organizations_apps(world):
    other = backend(name="Bolt's", organization=world.b)
    caller = backend(organization=world.a).caller()
    listed = {row["client_id"] for row in caller.get(APPS).json()["results"]}
    assert other.client_id not in listed
    assert caller.get(f"{APPS}{other.client_id}/").status_code == 404
    created = caller.send("POST", APPS, {"name": "Acme sync", "kind": "m2m"})
    assert created.status_code == 201, created.content
    assert created.json()["organization"] == "acme"
    web = caller.send(
        "POST", APPS, {"name": "Acme web", "kind": "web", "redirect_uris": ["https://a.example/cb"]}
    )
    assert web.status_code == 403
    assert caller.get("/api/v1/apis/").json()["results"] == []


def test_staff_register_apis_and_apps_with_their_session(db):
    staff = signed_in(UserFactory(is_staff=True, is_superuser=True))
    staff.get("/api/v1/apis/")  # the CSRF cookie
    csrf = str(staff.cookies["csrftoken"].value)
    response = staff.post(
        "/api/v1/apis/",
        {"identifier": "https://ledger.example.com/", "name": "Ledger", "scopes": {"l:read": "R"}},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 201, response.content
    assert response.json()["token_format"] == "jwt"
    response = staff.post(
        APPS,
        {"name": "Ledger SPA", "kind": "spa", "redirect_uris": ["https://ledger.example.com/cb"]},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 201, response.content
    assert response.json()["client_secret"] is None
    assert signed_in(UserFactory()).get(APPS).status_code == 403


def test_bad_input_is_a_400_problem(db):
    caller = backend(scopes=["clients:write"]).caller()
    for body in (
        {"name": "x", "kind": "toaster"},
        {"name": "x", "kind": "web", "redirect_uris": ["http://evil.example/cb"]},
        {"name": "x", "kind": "m2m", "apis": {"https://nowhere.example/": ["a"]}},
        {"name": 5, "kind": "m2m"},
    ):
        response = caller.send("POST", APPS, body)
        assert response.status_code == 400, (body, response.content)
        assert response["Content-Type"] == "application/problem+json"
