"""Removing a member: access ends at once; a real Celery worker on Redis cleans up after it,
idempotently; with the broker down the removal still holds and the sweep finishes it later."""

from __future__ import annotations

import time
from unittest import mock

import pytest
from django.test import Client

from audit.models import AuditEvent
from organizations import services
from organizations.models import Invitation, Membership
from organizations.tasks import deprovision_membership, sweep_removed_memberships
from tests.organizations.conftest import signed_in

DEADLINE_SECONDS = 60


def wait_until(condition) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline and not condition():
        time.sleep(0.2)
    assert condition()


def _setup_member_with_traces(world) -> tuple[Client, Membership]:
    """A member working in Acme (active organization in their session) who sent an invitation
    as an admin."""
    member = world.membership(world.a, world.a_member)
    Membership.objects.filter(pk=member.pk).update(role="admin")
    client = signed_in(world.a_member)
    client.post("/orgs/switch/", {"slug": "acme"})
    assert client.session["gatehouse_active_org"] == world.a.pk
    client.post("/orgs/acme/invitations/", {"email": "friend@else.example", "role": "member"})
    assert Invitation.objects.filter(email="friend@else.example", revoked_at=None).exists()
    return client, member


@pytest.mark.services
def test_a_real_worker_deprovisions_a_removed_member_once(world, celery_worker):
    client, member = _setup_member_with_traces(world)

    services.remove_member(
        actor=world.membership(world.a, world.a_owner), org=world.a, member_id=member.pk
    )

    # Access ends at once, before any job has run.
    assert client.get("/orgs/acme/").status_code == 404
    wait_until(lambda: Membership.objects.get(pk=member.pk).deprovisioned_at is not None)
    assert "gatehouse_active_org" not in client.session
    assert Invitation.objects.get(email="friend@else.example").revoked_at is not None
    [event] = AuditEvent.objects.filter(action="org.member_deprovisioned")
    assert event.organization_id == world.a.pk
    assert event.data == {"sessions_cleared": 1}

    # Run it again through the worker, then a marker job behind it on the same one-at-a-time
    # queue: once the marker is done, the repeat has run, and it changed nothing.
    deprovision_membership.delay(member.pk)
    marker = world.membership(world.a, world.a_admin)
    services.remove_member(
        actor=world.membership(world.a, world.a_owner), org=world.a, member_id=marker.pk
    )
    wait_until(lambda: Membership.objects.get(pk=marker.pk).deprovisioned_at is not None)
    events = AuditEvent.objects.filter(action="org.member_deprovisioned")
    assert sorted(e.target_id for e in events) == sorted(
        [str(world.a_member.pk), str(world.a_admin.pk)]
    )


def test_with_the_broker_down_removal_holds_and_the_sweep_finishes_it(world, caplog):
    from kombu.exceptions import OperationalError

    client, member = _setup_member_with_traces(world)
    with mock.patch.object(
        deprovision_membership, "delay", side_effect=OperationalError("broker down")
    ) as delay:
        services.remove_member(
            actor=world.membership(world.a, world.a_owner), org=world.a, member_id=member.pk
        )
    assert delay.called
    assert "could not queue" in caplog.text

    member.refresh_from_db()
    assert not member.is_active
    assert member.deprovisioned_at is None
    assert client.get("/orgs/acme/").status_code == 404  # fail closed
    assert Invitation.objects.get(email="friend@else.example").revoked_at is not None

    assert sweep_removed_memberships() == 1  # the broker is back (eager here)
    member.refresh_from_db()
    assert member.deprovisioned_at is not None
    assert sweep_removed_memberships() == 0
    assert AuditEvent.objects.filter(action="org.member_deprovisioned").count() == 1
