"""The organization portal's Applications tab: an org admin registers the organization's own
backends (M2M apps bound to it, with management-API permissions), sees the secret once, rotates
it and turns the app off; nobody reaches another organization's apps."""

from __future__ import annotations

import base64
import re

import pytest

from audit.models import AuditEvent
from config import secrets
from provider.management_api import management_api
from provider.models import AccessToken, ApiAccess, Application
from provider.services.applications import create_application
from tests.organizations.conftest import OrgWorld, signed_in

BASE = "/orgs/{slug}/applications/"


@pytest.fixture
def world(signing_keys) -> OrgWorld:
    return OrgWorld()


def org_app(org, name="Sync") -> Application:
    return create_application(
        actor=None,
        name=name,
        kind="m2m",
        organization=org,
        apis={management_api(): ["users:read"]},
    ).application


def shown_secret(response) -> str:
    match = re.search(rb'<code id="client-secret">([^<]+)</code>', response.content)
    assert match, response.content[:500]
    return match.group(1).decode()


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def token_status(client, client_id: str, secret: str) -> int:
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "resource": management_api().identifier},
        HTTP_AUTHORIZATION=basic(client_id, secret),
    )
    return response.status_code


def test_admin_creates_an_org_bound_backend_and_sees_the_secret_once(world, client):
    admin = signed_in(world.a_admin)

    response = admin.post(
        BASE.format(slug="acme") + "new/",
        {"name": "Billing sync", "permissions": ["users:read", "organizations:read"]},
    )

    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    secret = shown_secret(response)
    app = Application.objects.get(name="Billing sync")
    assert app.organization == world.a
    assert app.kind == "m2m"
    assert sorted(ApiAccess.objects.get(application=app).scopes) == [
        "organizations:read",
        "users:read",
    ]
    # Stored only as its keyed digest, and never shown again.
    assert secrets.matches(secret, key_id=app.secret_key_id, digest=app.secret_digest)
    assert secret not in app.client_secret
    page = admin.get(BASE.format(slug="acme") + f"{app.pk}/")
    listing = admin.get(BASE.format(slug="acme"))
    for later in (page, listing):
        assert later.status_code == 200
        assert secret.encode() not in later.content
        assert app.client_id.encode() in later.content
    event = AuditEvent.objects.get(action="oauth.app_created")
    assert event.organization_id == world.a.pk
    assert event.actor_id == world.a_admin.pk
    # The secret works at the token endpoint: a management-API token for this org only.
    assert token_status(client, app.client_id, secret) == 200
    token = AccessToken.objects.get(application=app)
    assert token.api == management_api()


def test_unknown_permissions_and_no_permissions_are_refused(world):
    admin = signed_in(world.a_admin)
    for permissions in ([], ["users:read", "admin:everything"]):
        response = admin.post(
            BASE.format(slug="acme") + "new/", {"name": "Greedy", "permissions": permissions}
        )
        assert response.status_code == 400
    assert not Application.objects.exists()


def test_rotation_shows_the_new_secret_once_and_the_overlap_is_kept(world, client):
    admin = signed_in(world.a_admin)
    created = admin.post(
        BASE.format(slug="acme") + "new/", {"name": "Sync", "permissions": ["users:read"]}
    )
    old = shown_secret(created)
    app = Application.objects.get()

    rotated = admin.post(BASE.format(slug="acme") + f"{app.pk}/rotate/", {"overlap": "1h"})

    assert rotated.status_code == 200
    assert "no-store" in rotated["Cache-Control"]
    new = shown_secret(rotated)
    assert new != old
    assert token_status(client, app.client_id, new) == 200
    assert token_status(client, app.client_id, old) == 200  # inside the hour's overlap
    admin.post(BASE.format(slug="acme") + f"{app.pk}/rotate/", {"overlap": "0"})
    assert token_status(client, app.client_id, new) == 401  # the overlap ended at once
    assert AuditEvent.objects.filter(action="oauth.client_secret_rotated").count() == 2


def test_disabling_needs_a_reason_and_stops_token_requests(world, client):
    admin = signed_in(world.a_admin)
    secret = shown_secret(
        admin.post(
            BASE.format(slug="acme") + "new/", {"name": "Sync", "permissions": ["users:read"]}
        )
    )
    app = Application.objects.get()
    url = BASE.format(slug="acme") + f"{app.pk}/"

    admin.post(url + "disable/", {"reason": ""})
    app.refresh_from_db()
    assert app.disabled_at is None

    response = admin.post(url + "disable/", {"reason": "Leaked in a log"})
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.disabled_at is not None
    assert token_status(client, app.client_id, secret) in (400, 401)
    event = AuditEvent.objects.get(action="oauth.app_disabled")
    assert event.data["reason"] == "Leaked in a log"
    assert event.organization_id == world.a.pk

    admin.post(url + "enable/", {"reason": "Rotated, redeployed"})
    app.refresh_from_db()
    assert app.disabled_at is None
    assert token_status(client, app.client_id, secret) == 200


def paths(app_id: int) -> list[tuple[str, str, dict]]:
    return [
        ("get", "", {}),
        ("get", "new/", {}),
        ("post", "new/", {"name": "X", "permissions": ["users:read"]}),
        ("get", f"{app_id}/", {}),
        ("post", f"{app_id}/rotate/", {"overlap": "0"}),
        ("post", f"{app_id}/disable/", {"reason": "x"}),
        ("post", f"{app_id}/enable/", {"reason": "x"}),
    ]


def snapshot() -> list[tuple]:
    return sorted(
        Application.objects.values_list(
            "pk", "name", "secret_digest", "previous_secret_digest", "disabled_at"
        )
    )


def test_admin_of_a_gets_404_on_every_url_of_org_b(world):
    b_app = org_app(world.b, "Bolt backend")
    a_app = org_app(world.a, "Acme backend")
    admin = signed_in(world.a_admin)
    before = snapshot()
    for method, tail, data in paths(b_app.pk):
        # B's app under B's slug: A's admin is not a member there.
        response = getattr(admin, method)(BASE.format(slug="bolt") + tail, data)
        assert response.status_code == 404, (method, tail)
        # B's app under A's slug: apps are looked up within A only.
        if str(b_app.pk) in tail:
            response = getattr(admin, method)(BASE.format(slug="acme") + tail, data)
            assert response.status_code == 404, (method, tail)
            assert b"Bolt backend" not in response.content
    assert snapshot() == before
    listing = admin.get(BASE.format(slug="acme"))
    assert b"Acme backend" in listing.content
    assert b"Bolt backend" not in listing.content
    assert a_app.client_id.encode() in listing.content


def test_a_plain_member_is_refused_everywhere_and_it_is_audited(world):
    app = org_app(world.a)
    member = signed_in(world.a_member)
    before = snapshot()
    for method, tail, data in paths(app.pk):
        denied = AuditEvent.objects.filter(action="org.access_denied").count()
        response = getattr(member, method)(BASE.format(slug="acme") + tail, data)
        assert response.status_code == 403, (method, tail)
        assert AuditEvent.objects.filter(action="org.access_denied").count() == denied + 1
    assert snapshot() == before
    assert Application.objects.count() == 1


def test_the_tab_is_in_the_portal_for_admins(world):
    response = signed_in(world.a_owner).get("/orgs/acme/")
    assert b'data-tab="applications"' in response.content
