"""Members through HTTP and the services: role changes, ownership transfer, removal and
leaving, and the last owner who stays whatever two owners do at the same moment."""

from __future__ import annotations

import pytest
from django.db import connection

from audit.models import AuditEvent
from organizations import services
from organizations.models import Membership
from tests.conftest import require
from tests.organizations.conftest import at_once, signed_in


def test_roles_change_and_the_last_owner_stays(world):
    owner = signed_in(world.a_owner)
    member = world.membership(world.a, world.a_member)
    assert owner.post(f"/orgs/acme/members/{member.pk}/role/", {"role": "admin"}).status_code == 302
    member.refresh_from_db()
    assert member.role == "admin"
    event = AuditEvent.objects.get(action="org.member_role_changed")
    assert event.data == {"from": "member", "to": "admin"}
    assert event.organization_id == world.a.pk
    # Owners cannot demote or remove themselves here, and the last owner cannot leave.
    me = world.membership(world.a, world.a_owner)
    assert owner.post(f"/orgs/acme/members/{me.pk}/role/", {"role": "member"}).status_code == 403
    response = owner.post("/orgs/acme/leave/")
    assert response.status_code == 302
    me.refresh_from_db()
    assert me.is_active
    assert me.role == "owner"


def test_transfer_ownership_then_the_old_owner_can_leave(world):
    owner = signed_in(world.a_owner)
    admin = world.membership(world.a, world.a_admin)
    assert owner.post("/orgs/acme/transfer/", {"member": admin.pk}).status_code == 302
    admin.refresh_from_db()
    me = world.membership(world.a, world.a_owner)
    assert admin.role == "owner"
    assert me.role == "admin"
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
    assert not member.is_active
    assert member.ended_at is not None
    assert AuditEvent.objects.filter(
        action="org.member_removed", organization_id=world.a.pk
    ).exists()
    # Eager Celery in this run: the cleanup has happened too.
    assert member.deprovisioned_at is not None
    assert AuditEvent.objects.filter(action="org.member_deprovisioned").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner(world):
    require(connection.vendor == "postgresql", "PostgreSQL for concurrent transactions")
    first = world.membership(world.a, world.a_owner)
    second = world.membership(world.a, world.a_admin)
    Membership.objects.filter(pk=second.pk).update(role="owner")
    second.refresh_from_db()

    errors = at_once(
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

    errors = at_once(
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
