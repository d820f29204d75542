"""Quotas against abuse: one person cannot create organizations, nor send invitations, without
end; an organization cannot be used to send invitations without end. Past a quota the answer is
a 429 that says when to try again (page and API alike), nothing is created or sent, and the
refusal is on record."""

from __future__ import annotations

import json

from django.core import mail

from audit.actions import Action
from audit.models import AuditEvent
from organizations.models import Invitation, Membership, Organization
from tests.organizations.conftest import signed_in


def _post(client, path: str, data: dict):
    return client.post(path, json.dumps(data), content_type="application/json")


def test_a_person_creates_organizations_up_to_the_quota_then_gets_429(user, settings):
    settings.GATEHOUSE_ORG_CREATION_LIMIT = (3, 3600)
    client = signed_in(user)
    for n in range(3):
        response = _post(client, "/api/v1/organizations/", {"name": f"O{n}", "slug": f"o{n}"})
        assert response.status_code == 201, response.content
    response = _post(client, "/api/v1/organizations/", {"name": "O4", "slug": "o4"})
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert 3500 <= int(response["Retry-After"]) <= 3600
    assert "Try again in about 60 minutes" in response.json()["detail"]
    assert not Organization.objects.filter(slug="o4").exists()
    event = AuditEvent.objects.get(action=Action.ORG_RATE_LIMITED)
    assert event.actor_id == user.pk
    assert event.organization_id is None
    assert event.data["attempted"] == "new organizations"
    assert event.data["quota"] == "person"


def test_the_creation_page_says_when_to_try_again(user, settings):
    settings.GATEHOUSE_ORG_CREATION_LIMIT = (1, 600)
    client = signed_in(user)
    assert client.post("/orgs/", {"name": "One", "slug": "one"}).status_code == 302
    response = client.post("/orgs/", {"name": "Two", "slug": "two"})
    assert response.status_code == 429
    assert b"Try again in about 10 minutes" in response.content
    assert not Organization.objects.filter(slug="two").exists()


def test_quotas_are_per_person(world, settings):
    settings.GATEHOUSE_ORG_CREATION_LIMIT = (1, 3600)
    first, second = signed_in(world.a_member), signed_in(world.b_member)
    assert _post(first, "/api/v1/organizations/", {"name": "A", "slug": "a1"}).status_code == 201
    assert _post(first, "/api/v1/organizations/", {"name": "A", "slug": "a2"}).status_code == 429
    assert _post(second, "/api/v1/organizations/", {"name": "B", "slug": "b1"}).status_code == 201


def test_invitations_per_person_are_limited_and_nothing_is_sent_past_it(world, settings):
    settings.GATEHOUSE_INVITATION_LIMITS = {"person": (2, 3600), "organization": (100, 3600)}
    client = signed_in(world.a_owner)
    mail.outbox.clear()
    for n in range(2):
        response = _post(
            client, "/api/v1/organizations/acme/invitations/", {"email": f"p{n}@out.example"}
        )
        assert response.status_code == 201, response.content
    response = _post(client, "/api/v1/organizations/acme/invitations/", {"email": "p9@out.example"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert not Invitation.objects.filter(email="p9@out.example").exists()
    assert len(mail.outbox) == 2
    event = AuditEvent.objects.get(action=Action.ORG_RATE_LIMITED)
    assert event.organization_id == world.a.pk
    assert event.data["quota"] == "person"


def test_invitations_per_organization_are_limited_across_its_admins(world, settings):
    settings.GATEHOUSE_INVITATION_LIMITS = {"person": (100, 3600), "organization": (2, 3600)}
    owner, admin = signed_in(world.a_owner), signed_in(world.a_admin)
    path = "/api/v1/organizations/acme/invitations/"
    assert _post(owner, path, {"email": "x1@out.example"}).status_code == 201
    assert _post(admin, path, {"email": "x2@out.example"}).status_code == 201
    refused = _post(admin, path, {"email": "x3@out.example"})
    assert refused.status_code == 429
    assert AuditEvent.objects.get(action=Action.ORG_RATE_LIMITED).data["quota"] == "organization"
    # Another organization's quota is its own.
    other = _post(
        signed_in(world.b_owner),
        "/api/v1/organizations/bolt/invitations/",
        {"email": "y@out.example"},
    )
    assert other.status_code == 201


def test_resending_counts_against_the_quota(world, settings):
    settings.GATEHOUSE_INVITATION_LIMITS = {"person": (1, 3600), "organization": (100, 3600)}
    client = signed_in(world.a_owner)
    created = _post(client, "/api/v1/organizations/acme/invitations/", {"email": "r@out.example"})
    invitation = Invitation.objects.get(pk=created.json()["id"])
    Invitation.objects.filter(pk=invitation.pk).update(sent_at=None)  # past the resend cooldown
    response = client.post(f"/api/v1/organizations/acme/invitations/{invitation.pk}/resend/")
    assert response.status_code == 429
    invitation.refresh_from_db()
    assert invitation.send_count == 1


def test_the_invitation_page_shows_the_quota_refusal(world, settings):
    settings.GATEHOUSE_INVITATION_LIMITS = {"person": (0, 3600), "organization": (100, 3600)}
    client = signed_in(world.a_owner)
    response = client.post("/orgs/acme/invitations/", {"email": "z@out.example", "role": "member"})
    assert response.status_code == 429
    assert b"Try again in about 60 minutes" in response.content
    assert not Invitation.objects.filter(email="z@out.example").exists()
    assert Membership.objects.for_org(world.a).count() == 3
