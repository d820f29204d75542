"""Holes a review found, each kept shut by a test: stale invitations, owners racing, session
lifetime, junk bodies, tokens in logs, unaudited refusals."""

from __future__ import annotations

import json
import logging
import threading
import time
from unittest import mock

import pytest
from django.core import mail
from django.db import connection, connections
from django.test import Client

from audit.models import AuditEvent
from config.refusals import Refusal
from organizations import services
from organizations.models import Invitation, Membership
from tests.conftest import require
from tests.organizations.conftest import signed_in
from tests.organizations.test_flows import ACCEPT, invitation_link, open_link


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


def test_the_session_lifetime_holds_whatever_the_active_organization(world):
    owner = world.membership(world.a, world.a_owner)
    services.update_policy(actor=owner, org=world.a, session_lifetime_minutes=30)
    client = signed_in(world.a_member)  # never switches to Acme
    assert client.get("/orgs/acme/members/").status_code == 200
    later = time.time() + 31 * 60
    with mock.patch("time.time", return_value=later):
        assert client.get("/orgs/acme/members/")["Location"].startswith("/accounts/login/")
    api = signed_in(world.a_member)
    with mock.patch("time.time", return_value=later):
        response = api.get("/api/v1/organizations/acme/members/")
    assert response.status_code in (401, 403)
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("body", ["[]", '"x"', "null", "1"])
def test_non_object_json_is_a_problem_not_a_500(world, body):
    client = signed_in(world.a_owner)
    client.raise_request_exception = False
    response = client.patch("/api/v1/organizations/acme/", body, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


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


def test_probing_another_organization_is_audited(world):
    client = signed_in(world.a_admin)
    assert client.get("/orgs/bolt/members/").status_code == 404
    assert client.get("/api/v1/organizations/bolt/").status_code == 404
    probes = AuditEvent.objects.filter(action="org.access_denied", organization_id=world.b.pk)
    assert probes.count() == 2
    assert {e.actor_id for e in probes} == {world.a_admin.pk}
    # A slug that does not exist leaves nothing to attach an event to, and says the same.
    assert client.get("/orgs/nothing-here/").status_code == 404


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
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=world.a_member, email="wanted@else.example", verified=False)
    mail.outbox.clear()
    response = signed_in(world.a_admin).post(
        "/orgs/acme/invitations/", {"email": "wanted@else.example", "role": "member"}
    )
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["wanted@else.example"]]


def _at_once(calls) -> list[Exception | None]:
    barrier = threading.Barrier(len(calls))
    errors: list[Exception | None] = [None] * len(calls)

    def run(i):
        try:
            barrier.wait()
            calls[i]()
        except Exception as exc:
            errors[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner(world):
    require(connection.vendor == "postgresql", "PostgreSQL for concurrent transactions")
    first = world.membership(world.a, world.a_owner)
    second = world.membership(world.a, world.a_admin)
    Membership.objects.filter(pk=second.pk).update(role="owner")
    second.refresh_from_db()

    errors = _at_once(
        [
            lambda: services.change_role(
                actor=first, org=world.a, member_id=second.pk, role="member"
            ),
            lambda: services.change_role(
                actor=second, org=world.a, member_id=first.pk, role="member"
            ),
        ]
    )

    assert (
        Membership.objects.filter(organization=world.a, role="owner", status="active").count() == 1
    )
    assert sum(e is not None for e in errors) == 1


@pytest.mark.django_db(transaction=True)
def test_two_owners_leaving_at_once_leave_one_owner(world):
    require(connection.vendor == "postgresql", "PostgreSQL for concurrent transactions")
    first = world.membership(world.a, world.a_owner)
    second = world.membership(world.a, world.a_admin)
    Membership.objects.filter(pk=second.pk).update(role="owner")
    second.refresh_from_db()

    errors = _at_once(
        [lambda: services.leave(membership=first), lambda: services.leave(membership=second)]
    )

    assert (
        Membership.objects.filter(organization=world.a, role="owner", status="active").count() == 1
    )
    assert sum(e is not None for e in errors) == 1
    assert (
        AuditEvent.objects.filter(action="org.access_denied", data__reason="last owner").count()
        == 1
    )


@pytest.mark.django_db(transaction=True)
def test_the_same_invitation_sent_twice_at_once_is_one_invitation(world):
    require(connection.vendor == "postgresql", "PostgreSQL for concurrent transactions")
    admin = world.membership(world.a, world.a_admin)
    request = mock.Mock(build_absolute_uri=lambda path: f"http://testserver{path}")
    with mock.patch("organizations.services._send_invitation"):
        errors = _at_once(
            [
                lambda: services.invite(
                    request=request,
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
