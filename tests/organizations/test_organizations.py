"""Organizations through HTTP: creating one (with the bad addresses it meets), switching the
active one, what members and visitors see, and the branded sign-in page."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from organizations.models import Membership, Organization
from tests.organizations.conftest import signed_in


def test_creating_an_organization_makes_the_creator_owner(user):
    client = signed_in(user)
    response = client.post("/orgs/", {"name": "  Zeta   Labs ", "slug": "zeta"})
    assert response["Location"] == "/orgs/zeta/"
    org = Organization.objects.get(slug="zeta")
    assert org.name == "Zeta Labs"
    assert Membership.objects.get(organization=org, user=user).role == "owner"
    assert AuditEvent.objects.filter(action="org.created", organization_id=org.pk).exists()
    assert client.get("/orgs/zeta/").status_code == 200
    assert client.session["gatehouse_active_org"] == org.pk


@pytest.mark.parametrize(
    ("slug", "status"),
    [
        *[("", 400), ("with space", 400), ("-dash", 400), ("x" * 60, 400), ("é", 400)],
        *[("new", 409), ("admin", 409)],  # reserved: taken by Gatehouse's own pages
        ("6f1c1b1e-2f7d-4b8e-9d7a-000000000000", 400),  # would be read as an organization's id
    ],
)
def test_bad_or_reserved_addresses_are_refused(user, slug, status):
    client = signed_in(user)
    response = client.post("/orgs/", {"name": "Zeta", "slug": slug})
    assert response.status_code == status
    assert not Organization.objects.exists()


def test_a_taken_address_is_refused(world):
    client = signed_in(world.b_member)
    response = client.post("/orgs/", {"name": "Copy", "slug": "acme"})
    assert response.status_code == 409
    assert Organization.objects.filter(slug="acme").count() == 1


def test_switching_the_active_organization(world):
    person = world.a_member
    Membership.objects.create(organization=world.b, user=person, role="member", source="admin")
    client = signed_in(person)
    assert client.post("/orgs/switch/", {"slug": "bolt"})["Location"] == "/orgs/bolt/"
    assert client.session["gatehouse_active_org"] == world.b.pk
    assert client.post("/orgs/switch/", {"slug": "nope"}).status_code == 404
    assert client.session["gatehouse_active_org"] == world.b.pk


def test_members_see_a_read_only_page(world):
    member = signed_in(world.a_member)
    page = member.get("/orgs/acme/")
    assert page.status_code == 200
    assert b"/orgs/acme/invitations/" not in page.content
    assert member.get("/orgs/acme/members/").status_code == 200


def test_an_anonymous_visitor_is_sent_to_sign_in(world):
    response = Client().get("/orgs/acme/")
    assert response["Location"].startswith("/accounts/login/")
    assert Client().get("/api/v1/organizations/acme/").status_code == 401


def test_the_sign_in_page_wears_the_organizations_brand(world):
    world.a.logo_url = "https://cdn.acme.example/logo.png"
    world.a.brand_colour = "#b34700"
    world.a.save()
    page = Client().get("/accounts/login/?org=acme")
    assert b'id="org-brand"' in page.content
    # Only logos Gatehouse serves itself appear on sign-in pages (test_branding_signin.py).
    assert b"https://cdn.acme.example/logo.png" not in page.content
    assert b"#b34700" in page.content
    plain = Client().get("/accounts/login/?org=nobody")
    assert b'id="org-brand"' not in plain.content
    assert Client().get("/accounts/login/?org=" + "x" * 500).status_code == 200
