"""Organization flows through HTTP: create, invite, accept, roles, remove, leave, transfer,
switch, policy; with the bad input each one meets."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from unittest import mock

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from organizations.models import Invitation, Membership, Organization
from tests.factories import UserFactory
from tests.organizations.conftest import signed_in

NEW_PASSWORD = "a fresh passphrase for Ada 9"


def invite(client: Client, email: str, role: str = "member", slug: str = "acme"):
    return client.post(f"/orgs/{slug}/invitations/", {"email": email, "role": role})


ACCEPT = "/invitations/accept/"


def open_link(client: Client, link: str):
    """Open an emailed invitation link: it moves the token into the session and continues at
    an address without it."""
    response = client.get(link)
    assert response.status_code == 302 and response["Location"] == ACCEPT
    return client.get(ACCEPT)


def accept(client: Client, link: str, data: dict | None = None):
    open_link(client, link)
    return client.post(ACCEPT, data or {})


def invitation_link() -> str:
    message = mail.outbox[-1]
    match = re.search(r"https?://[^/\s]+(/invitations/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


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


def test_invite_a_new_person_who_signs_up_from_the_link(world):
    admin = signed_in(world.a_admin)
    mail.outbox.clear()
    assert invite(admin, "Ada@New.example", role="admin")["Location"] == "/orgs/acme/invitations/"
    invitation = Invitation.objects.get(email="ada@new.example")
    assert invitation.role == "admin" and invitation.invited_by == world.a_admin
    [message] = mail.outbox
    assert message.to == ["ada@new.example"]
    assert "Acme" in message.subject or "Acme" in message.body
    link = invitation_link()
    token = link.split("/")[2]
    # Only the token's hash is stored.
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not Invitation.objects.filter(token_hash=token).exists()

    ada = Client()
    page = open_link(ada, link)
    assert page.status_code == 200
    assert b"ada@new.example" in page.content
    response = ada.post(ACCEPT, {"password1": NEW_PASSWORD})

    assert response["Location"] == "/orgs/acme/"
    user = User.objects.get(email="ada@new.example")
    assert EmailAddress.objects.get(user=user).verified, "the link proved the mailbox"
    membership = Membership.objects.get(user=user, organization=world.a)
    assert membership.role == "admin" and membership.source == "invitation"
    assert ada.get("/orgs/acme/").status_code == 200
    assert AuditEvent.objects.filter(
        action="org.invitation_accepted", organization_id=world.a.pk
    ).exists()
    # The link works once.
    again = open_link(Client(), link)
    assert again.status_code == 400
    assert AuditEvent.objects.filter(
        action="org.invitation_refused", data__reason="accepted"
    ).exists()


def test_an_existing_user_signs_in_then_accepts(world):
    person = UserFactory(email="existing@else.example")
    invite(signed_in(world.a_admin), person.email)
    link = invitation_link()

    anonymous = Client()
    page = open_link(anonymous, link)
    assert page.status_code == 200
    assert b"/accounts/login/?next=" in page.content
    assert anonymous.post(ACCEPT, {"password1": "whatever-1234"})["Location"].startswith(
        "/accounts/login/"
    )
    assert not User.objects.filter(email="existing@else.example").exclude(pk=person.pk).exists()

    client = signed_in(person)
    assert accept(client, link)["Location"] == "/orgs/acme/"
    assert Membership.objects.get(user=person, organization=world.a).is_active


def test_an_invitation_cannot_be_accepted_by_someone_else(world):
    invite(signed_in(world.a_admin), "intended@else.example")
    link = invitation_link()
    intruder = signed_in(world.b_member)

    assert open_link(intruder, link).status_code == 400
    response = intruder.post(ACCEPT)

    assert response.status_code == 400
    assert not Membership.objects.filter(user=world.b_member, organization=world.a).exists()
    assert Invitation.objects.get(email="intended@else.example").accepted_at is None
    assert AuditEvent.objects.filter(
        action="org.invitation_refused", data__reason="other_user"
    ).exists()


def test_expired_revoked_and_unknown_invitations_are_refused(world):
    admin = signed_in(world.a_admin)
    invite(admin, "late@else.example")
    late_link = invitation_link()
    invite(admin, "revoked@else.example")
    revoked_link = invitation_link()
    revoked = Invitation.objects.get(email="revoked@else.example")
    assert admin.post(f"/orgs/acme/invitations/{revoked.pk}/revoke/").status_code == 302

    later = timezone.now() + timedelta(days=8)
    with mock.patch("django.utils.timezone.now", return_value=later):
        response = accept(Client(), late_link, {"password1": NEW_PASSWORD})
    assert response.status_code == 400 and b"expired" in response.content
    response = accept(Client(), revoked_link, {"password1": NEW_PASSWORD})
    assert response.status_code == 400 and b"withdrawn" in response.content
    for junk in (
        "/invitations/not-a-token/",
        "/invitations/" + "x" * 500 + "/",
        "/invitations/%00/",
    ):
        assert open_link(Client(), junk).status_code == 404
    # Without any link at all.
    assert Client().get(ACCEPT).status_code == 404
    assert not User.objects.filter(email__in=["late@else.example", "revoked@else.example"]).exists()


def test_resend_gives_a_new_link_and_the_old_one_stops_working(world):
    admin = signed_in(world.a_admin)
    invite(admin, "twice@else.example")
    old_link = invitation_link()
    invitation = Invitation.objects.get(email="twice@else.example")

    # Too soon.
    admin.post(f"/orgs/acme/invitations/{invitation.pk}/resend/")
    assert Invitation.objects.get(pk=invitation.pk).send_count == 1
    with mock.patch(
        "django.utils.timezone.now", return_value=timezone.now() + timedelta(minutes=2)
    ):
        admin.post(f"/orgs/acme/invitations/{invitation.pk}/resend/")
    new_link = invitation_link()
    assert new_link != old_link
    assert open_link(Client(), old_link).status_code == 404
    assert open_link(Client(), new_link).status_code == 200


def test_inviting_a_member_or_twice_is_refused_clearly(world):
    admin = signed_in(world.a_admin)
    assert invite(admin, world.a_member.email).status_code == 409
    invite(admin, "once@else.example")
    response = invite(admin, "ONCE@else.example")
    assert response.status_code == 409
    assert Invitation.objects.filter(email__iexact="once@else.example").count() == 1
    for junk in ("", "not-an-email", "a@b", "x" * 300 + "@example.com", "a\r\nb@example.com"):
        assert invite(admin, junk).status_code == 400
    assert invite(admin, "ok@else.example", role="king").status_code == 400


def test_admins_cannot_invite_owners_but_owners_can(world):
    assert invite(signed_in(world.a_admin), "boss@else.example", role="owner").status_code == 403
    assert not Invitation.objects.filter(email="boss@else.example").exists()
    assert invite(signed_in(world.a_owner), "boss@else.example", role="owner").status_code == 302


def test_roles_change_and_the_last_owner_stays(world):
    owner = signed_in(world.a_owner)
    member = world.membership(world.a, world.a_member)
    assert owner.post(f"/orgs/acme/members/{member.pk}/role/", {"role": "admin"}).status_code == 302
    member.refresh_from_db()
    assert member.role == "admin"
    event = AuditEvent.objects.get(action="org.member_role_changed")
    assert event.data == {"from": "member", "to": "admin"} and event.organization_id == world.a.pk
    # Owners cannot demote or remove themselves here, and the last owner cannot leave.
    me = world.membership(world.a, world.a_owner)
    assert owner.post(f"/orgs/acme/members/{me.pk}/role/", {"role": "member"}).status_code == 403
    response = owner.post("/orgs/acme/leave/")
    assert response.status_code == 302
    me.refresh_from_db()
    assert me.is_active and me.role == "owner"


def test_transfer_ownership_then_the_old_owner_can_leave(world):
    owner = signed_in(world.a_owner)
    admin = world.membership(world.a, world.a_admin)
    assert owner.post("/orgs/acme/transfer/", {"member": admin.pk}).status_code == 302
    admin.refresh_from_db()
    me = world.membership(world.a, world.a_owner)
    assert admin.role == "owner" and me.role == "admin"
    assert AuditEvent.objects.filter(action="org.ownership_transferred").exists()
    assert owner.post("/orgs/acme/leave/")["Location"] == "/orgs/"
    me.refresh_from_db()
    assert not me.is_active
    assert AuditEvent.objects.filter(action="org.member_left", organization_id=world.a.pk).exists()


def test_remove_a_member(world):
    admin = signed_in(world.a_admin)
    member = world.membership(world.a, world.a_member)
    assert admin.post(f"/orgs/acme/members/{member.pk}/remove/").status_code == 302
    member.refresh_from_db()
    assert not member.is_active and member.ended_at is not None
    assert AuditEvent.objects.filter(
        action="org.member_removed", organization_id=world.a.pk
    ).exists()
    # Eager Celery in this run: the cleanup has happened too.
    assert member.deprovisioned_at is not None
    assert AuditEvent.objects.filter(action="org.member_deprovisioned").count() == 1


def test_switching_the_active_organization(world):
    person = world.a_member
    Membership.objects.create(organization=world.b, user=person, role="member", source="admin")
    client = signed_in(person)
    assert client.post("/orgs/switch/", {"slug": "bolt"})["Location"] == "/orgs/bolt/"
    assert client.session["gatehouse_active_org"] == world.b.pk
    assert client.post("/orgs/switch/", {"slug": "nope"}).status_code == 404
    assert client.session["gatehouse_active_org"] == world.b.pk


def test_policy_is_saved_and_bad_values_refused(world):
    admin = signed_in(world.a_admin)
    for bad in (
        {"allowed_login_methods": [], "default_role": "member"},
        {"allowed_login_methods": ["fax"], "default_role": "member"},
        {"allowed_login_methods": ["password"], "default_role": "owner"},
        {
            "allowed_login_methods": ["password"],
            "default_role": "member",
            "session_lifetime_minutes": "1",
        },
    ):
        assert admin.post("/orgs/acme/policy/", bad).status_code == 400
    response = admin.post(
        "/orgs/acme/policy/",
        {
            "require_mfa": "on",
            "allowed_login_methods": ["password", "passkey"],
            "session_lifetime_minutes": "60",
            "default_role": "member",
        },
    )
    assert response.status_code == 302
    world.a.policy.refresh_from_db()
    assert world.a.policy.require_mfa
    assert world.a.policy.allowed_login_methods == ["passkey", "password"]
    event = AuditEvent.objects.get(action="org.policy_updated")
    assert event.organization_id == world.a.pk and event.data["require_mfa"] is True


def test_required_mfa_makes_members_enroll_at_their_next_login(world):
    admin = signed_in(world.a_admin)
    admin.post(
        "/orgs/acme/policy/",
        {"require_mfa": "on", "allowed_login_methods": ["password"], "default_role": "member"},
    )
    member = signed_in(world.a_member)
    response = member.get("/account/")
    assert response.status_code == 302
    assert response["Location"].startswith("/account/security/")
    # Someone outside the organization is not affected.
    assert signed_in(world.b_member).get("/account/").status_code == 200


def test_session_lifetime_applies_to_sessions_in_the_organization(world):
    admin = signed_in(world.a_admin)
    admin.post(
        "/orgs/acme/policy/",
        {
            "allowed_login_methods": ["password"],
            "default_role": "member",
            "session_lifetime_minutes": "30",
        },
    )
    member = signed_in(world.a_member)
    member.post("/orgs/switch/", {"slug": "acme"})
    assert member.get("/orgs/acme/").status_code == 200
    import time

    with mock.patch("time.time", return_value=time.time() + 31 * 60):
        response = member.get("/orgs/acme/")
    assert response["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in member.session


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
    world.a.brand_colour = "#ff6600"
    world.a.save()
    page = Client().get("/accounts/login/?org=acme")
    assert b'id="org-brand"' in page.content
    assert b"https://cdn.acme.example/logo.png" in page.content
    assert b"#ff6600" in page.content
    plain = Client().get("/accounts/login/?org=nobody")
    assert b'id="org-brand"' not in plain.content
    assert Client().get("/accounts/login/?org=" + "x" * 500).status_code == 200
