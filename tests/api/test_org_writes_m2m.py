"""Apps change organizations through the management API with ``organizations:write``: what an
app may do about the owner role (nothing, except invite the first owner of an organization that
has none), an unbound app in any organization and creating one, the invitations an app sends
(they stop working when the app is turned off), and consent recorded by an organization's app.
Every route's isolation and success is walked in test_isolation_m2m.py."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from audit.models import AuditEvent
from config.refusals import Refusal
from consent.models import ConsentEvent, Purpose
from organizations.models import Invitation, Membership, Organization
from organizations.permissions import APP_OWNER_REFUSAL
from organizations.services import accept_invitation, invite
from provider.services.applications import set_disabled
from tests.api.oauth_world import backend
from tests.factories import UserFactory

WRITE = ["organizations:read", "organizations:write"]


def emailed_token() -> str:
    match = re.search(r"/invitations/([^/\s]+)/", str(mail.outbox[-1].body))
    assert match, mail.outbox[-1].body
    return match.group(1)


def assert_owner_refusal(response, client_id: str) -> None:
    assert response.status_code == 403, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == APP_OWNER_REFUSAL
    event = AuditEvent.objects.filter(action="org.access_denied").latest("occurred_at")
    assert (event.actor_text, event.outcome) == (f"client {client_id}", "failure")


def test_an_app_may_not_grant_or_take_away_the_owner_role(world):
    app = backend(organization=world.a, scopes=WRITE)
    caller = app.caller()
    owner = world.membership(world.a, world.a_owner)
    member = world.membership(world.a, world.a_member)
    members = "/api/v1/organizations/acme/members/"

    assert_owner_refusal(
        caller.send("PATCH", f"{members}{member.pk}/", {"role": "owner"}), app.client_id
    )
    assert_owner_refusal(
        caller.send("PATCH", f"{members}{owner.pk}/", {"role": "member"}), app.client_id
    )
    assert_owner_refusal(caller.send("DELETE", f"{members}{owner.pk}/"), app.client_id)
    invitations = "/api/v1/organizations/acme/invitations/"
    assert_owner_refusal(
        caller.send("POST", invitations, {"email": "boss@a.example", "role": "owner"}),
        app.client_id,
    )
    # An owner's invitation, sent by the owner, is not the app's to resend or withdraw.
    sent = invite(actor=owner, org=world.a, email="co-owner@a.example", role="owner")
    assert_owner_refusal(caller.send("POST", f"{invitations}{sent.pk}/resend/"), app.client_id)
    assert_owner_refusal(caller.send("DELETE", f"{invitations}{sent.pk}/"), app.client_id)

    assert Membership.objects.get(pk=owner.pk).role == "owner"
    assert Membership.objects.get(pk=member.pk).role == "member"
    assert not Invitation.objects.filter(email="boss@a.example").exists()
    assert Invitation.objects.get(pk=sent.pk).revoked_at is None
    # Admins and members are the app's to manage.
    response = caller.send("PATCH", f"{members}{member.pk}/", {"role": "admin"})
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "admin"


def test_an_unbound_app_changes_any_organization(world):
    app = backend(scopes=WRITE)
    caller = app.caller()
    response = caller.send("PATCH", "/api/v1/organizations/bolt/", {"brand_colour": "#112233"})
    assert response.status_code == 200, response.content
    assert response.json()["role"] is None  # an app holds no role
    world.b.refresh_from_db()
    assert world.b.brand_colour == "#112233"
    response = caller.send(
        "POST", "/api/v1/organizations/acme/invitations/", {"email": "x@a.example"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["invited_by"] is None
    assert response.json()["invited_by_client"] == app.client_id
    # An organization that does not exist is a 404 for a write too.
    assert caller.send("PATCH", "/api/v1/organizations/nope/", {"name": "N"}).status_code == 404


def test_an_unbound_app_creates_an_organization_and_invites_its_first_owner(world):
    app = backend(scopes=WRITE)
    caller = app.caller()
    mail.outbox.clear()
    response = caller.send(
        "POST",
        "/api/v1/organizations/",
        {"name": "Cobalt", "slug": "cobalt", "owner_email": "founder@cobalt.example"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["slug"] == "cobalt"
    assert "owner_email" not in response.json()
    org = Organization.objects.get(slug="cobalt")
    assert not Membership.objects.filter(organization=org).exists()
    invitation = Invitation.objects.get(organization=org)
    assert (invitation.role, invitation.invited_by_client) == ("owner", app.client_id)
    created = AuditEvent.objects.get(action="org.created", organization_id=org.pk)
    assert (created.actor_id, created.actor_text) == (None, f"client {app.client_id}")

    founder = UserFactory(email="founder@cobalt.example")
    membership = accept_invitation(token=emailed_token(), user=founder)
    assert (membership.organization_id, membership.role) == (org.pk, "owner")
    # Now the organization has an owner: the app invites no other.
    body = {"email": "b@x.example", "role": "owner"}
    refused = caller.send("POST", "/api/v1/organizations/cobalt/invitations/", body)
    assert_owner_refusal(refused, app.client_id)


def test_a_bound_app_cannot_create_organizations(world):
    caller = backend(organization=world.a, scopes=WRITE).caller()
    response = caller.send("POST", "/api/v1/organizations/", {"name": "Side", "slug": "side"})
    assert response.status_code == 403, response.content
    assert "cannot create organizations" in response.json()["detail"]
    assert not Organization.objects.filter(slug="side").exists()
    assert AuditEvent.objects.filter(action="org.access_denied", outcome="failure").exists()


def test_an_apps_invitation_stops_working_when_the_app_is_turned_off(world):
    app = backend(organization=world.a, scopes=WRITE)
    mail.outbox.clear()
    response = app.caller().send(
        "POST", "/api/v1/organizations/acme/invitations/", {"email": "late@a.example"}
    )
    assert response.status_code == 201, response.content
    token = emailed_token()
    set_disabled(actor=None, application=app.application, disabled=True, reason="leaked")
    person = UserFactory(email="late@a.example")
    with pytest.raises(Refusal, match="withdrawn"):
        accept_invitation(token=token, user=person)
    assert not Membership.objects.filter(organization=world.a, user=person).exists()

    # The same invitation from an app still allowed works.
    other = backend(organization=world.a, scopes=WRITE, name="Second backend")
    response = other.caller().send(
        "POST", "/api/v1/organizations/acme/invitations/", {"email": "on@a.example"}
    )
    assert response.status_code == 201, response.content
    joined = accept_invitation(token=emailed_token(), user=UserFactory(email="on@a.example"))
    assert (joined.organization_id, joined.role) == (world.a.pk, "member")


def test_a_bound_app_records_consent_only_for_its_own_organizations_purposes(world):
    # B's member is in A too, so A's app sees them; B's purpose is still not A's to record.
    Membership.objects.create(organization=world.a, user=world.b_member, role="member")
    bolt_only = Purpose.objects.create(organization=world.b, key="beta", name="Beta programme")
    acme_own = Purpose.objects.create(organization=world.a, key="beta", name="Acme beta")
    path = f"/api/v1/users/{world.b_member.public_id}/consent-events/"
    reader = backend(organization=world.a, scopes=["consent:read"]).caller()
    refused = reader.send("POST", path, {"purpose": str(acme_own.public_id), "decision": "granted"})
    assert refused.status_code == 403
    assert "consent:write" in refused.json()["detail"]

    app = backend(organization=world.a, scopes=["consent:read", "consent:write"])
    caller = app.caller()
    granted = {"decision": "granted"}
    response = caller.send("POST", path, {"purpose": str(bolt_only.public_id), **granted})
    assert response.status_code == 404, response.content
    assert not ConsentEvent.objects.filter(purpose=bolt_only).exists()

    response = caller.send("POST", path, {"purpose": str(acme_own.public_id), **granted})
    assert response.status_code == 201, response.content
    event = ConsentEvent.objects.get(purpose=acme_own)
    assert event.user_id == world.b_member.pk
    audit = AuditEvent.objects.get(action="consent.granted", data__event=str(event.public_id))
    assert audit.actor_text == f"client {app.client_id}"
    assert caller.get(path).json()["results"][0]["id"] == str(event.public_id)
