"""Invitations through HTTP: sending, resending, withdrawing, accepting by a new or an existing
person, and every way a link is refused; with the bad input and the races each one meets."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import timedelta
from unittest import mock

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from config.refusals import Refusal
from organizations import services
from organizations.models import Invitation, Membership
from tests.conftest import require
from tests.factories import UserFactory
from tests.organizations.conftest import at_once, signed_in

NEW_PASSWORD = "a fresh passphrase for Ada 9"


def invite(client: Client, email: str, role: str = "member", slug: str = "acme"):
    return client.post(f"/orgs/{slug}/invitations/", {"email": email, "role": role})


ACCEPT = "/invitations/accept/"


def open_link(client: Client, link: str):
    """Open an emailed invitation link: it moves the token into the session and continues at
    an address without it."""
    response = client.get(link)
    assert response.status_code == 302
    assert response["Location"] == ACCEPT
    return client.get(ACCEPT)


def accept(client: Client, link: str, data: dict | None = None):
    open_link(client, link)
    return client.post(ACCEPT, data or {})


def invitation_link() -> str:
    message = mail.outbox[-1]
    match = re.search(r"https?://[^/\s]+(/invitations/[^/\s]+/)", str(message.body))
    assert match, message.body
    return match.group(1)


def test_invite_a_new_person_who_signs_up_from_the_link(world):
    admin = signed_in(world.a_admin)
    mail.outbox.clear()
    assert invite(admin, "Ada@New.example", role="admin")["Location"] == "/orgs/acme/invitations/"
    invitation = Invitation.objects.get(email="ada@new.example")
    assert invitation.role == "admin"
    assert invitation.invited_by == world.a_admin
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
    assert membership.role == "admin"
    assert membership.source == "invitation"
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
    assert response.status_code == 400
    assert b"expired" in response.content
    response = accept(Client(), revoked_link, {"password1": NEW_PASSWORD})
    assert response.status_code == 400
    assert b"withdrawn" in response.content
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


def test_admins_cannot_withdraw_an_owner_invitation(world):
    signed_in(world.a_owner).post(
        "/orgs/acme/invitations/", {"email": "o@else.example", "role": "owner"}
    )
    invitation = Invitation.objects.get(email="o@else.example")
    response = signed_in(world.a_admin).post(f"/orgs/acme/invitations/{invitation.pk}/revoke/")
    assert response.status_code == 403
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_an_unverified_address_does_not_block_an_invitation(world):
    EmailAddress.objects.create(user=world.a_member, email="wanted@else.example", verified=False)
    mail.outbox.clear()
    response = signed_in(world.a_admin).post(
        "/orgs/acme/invitations/", {"email": "wanted@else.example", "role": "member"}
    )
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["wanted@else.example"]]


def test_an_invitation_dies_with_the_inviters_rights(world):
    owner = world.membership(world.a, world.a_owner)
    # A second owner, so the first can be demoted.
    Membership.objects.filter(pk=world.membership(world.a, world.a_admin).pk).update(role="owner")
    client = signed_in(world.a_owner)
    client.post("/orgs/acme/invitations/", {"email": "alt@else.example", "role": "owner"})
    link = invitation_link()
    services.change_role(
        actor=world.membership(world.a, world.a_admin),
        org=world.a,
        member_id=owner.pk,
        role="member",
    )
    invitation = Invitation.objects.get(email="alt@else.example")
    assert invitation.revoked_at is not None, "demotion withdraws the owner invitation"
    response = open_link(Client(), link)
    assert response.status_code == 400


def test_a_removed_admins_invitations_stop_at_once_even_without_a_worker(world):
    admin = world.membership(world.a, world.a_admin)
    signed_in(world.a_admin).post(
        "/orgs/acme/invitations/", {"email": "x@else.example", "role": "member"}
    )
    link = invitation_link()
    with mock.patch("organizations.tasks.deprovision_membership.delay", side_effect=OSError):
        services.remove_member(
            actor=world.membership(world.a, world.a_owner), org=world.a, member_id=admin.pk
        )
    assert Invitation.objects.get(email="x@else.example").revoked_at is not None
    assert open_link(Client(), link).status_code == 400


def test_an_accepted_invitation_needs_an_inviter_still_entitled(world):
    """Belt and braces: even an invitation left open is refused if its sender may no longer
    grant the role."""
    signed_in(world.a_admin).post(
        "/orgs/acme/invitations/", {"email": "y@else.example", "role": "member"}
    )
    link = invitation_link()
    Membership.objects.filter(user=world.a_admin, organization=world.a).update(role="member")
    response = open_link(Client(), link)
    assert response.status_code == 200  # still looks open...
    client = Client()
    open_link(client, link)
    response = client.post(ACCEPT, {"password1": "a fine passphrase 77"})
    assert response.status_code == 400  # ...but cannot be used
    assert not Membership.objects.filter(user__email="y@else.example").exists()


def test_invitation_tokens_never_reach_the_logs(world, caplog):
    signed_in(world.a_admin).post(
        "/orgs/acme/invitations/", {"email": "z@else.example", "role": "member"}
    )
    link = invitation_link()
    token = link.split("/")[2]
    intruder = signed_in(world.b_member)
    with caplog.at_level(logging.INFO):
        open_link(intruder, link)  # refused: another user
        intruder.post(ACCEPT)
        weak = Client()
        open_link(weak, link)
        weak.post(ACCEPT, {"password1": "short"})
    assert token not in caplog.text
    assert all(token not in json.dumps(e.data) for e in AuditEvent.objects.all())


@pytest.mark.django_db(transaction=True)
def test_the_same_invitation_sent_twice_at_once_is_one_invitation(world):
    require(connection.vendor == "postgresql", "PostgreSQL for concurrent transactions")
    admin = world.membership(world.a, world.a_admin)
    with mock.patch("organizations.services.invitations._send_invitation"):
        errors = at_once(
            [
                lambda: services.invite(
                    actor=admin,
                    org=world.a,
                    email="dup@else.example",
                    role="member",
                )
            ]
            * 2
        )
    assert Invitation.objects.filter(email="dup@else.example").count() == 1
    assert all(e is None or isinstance(e, Refusal) for e in errors)
