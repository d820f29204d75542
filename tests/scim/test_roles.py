"""Roles from the directory's groups: the strongest role mapped to any of a person's groups,
the directory's default otherwise, applied as group memberships change; owners untouched;
another directory's records out of reach."""

from __future__ import annotations

from django.db import transaction

from audit.models import AuditEvent
from organizations.models import Membership
from sso.scim import accounts
from sso.scim.actor import DirectoryActor
from sso.scim.models import ScimUser
from tests.scim import records


def role_of(record: ScimUser) -> str:
    return Membership.objects.get(organization=record.organization, user=record.user).role


def test_the_strongest_mapped_group_wins_and_the_default_applies_otherwise(scim):
    kim = records.provision(scim.directory, "kim@acme.test")
    everyone = records.group(scim.directory, "Everyone", role="member", members=[kim])
    assert role_of(kim) == "member"

    it_admins = records.group(scim.directory, "IT admins", role="admin", members=[kim])
    assert role_of(kim) == "admin"

    records.set_members(it_admins, [])
    assert role_of(kim) == "member"

    scim.directory.default_role = "admin"
    scim.directory.save(update_fields=["default_role"])
    records.delete_group(everyone)  # in no mapped group now: the default
    assert role_of(kim) == "admin"


def test_a_group_with_no_role_mapped_changes_nothing(scim):
    kim = records.provision(scim.directory, "kim@acme.test")
    records.group(scim.directory, "Book club", members=[kim])

    assert role_of(kim) == "member"
    assert not AuditEvent.objects.filter(action="scim.role_mapped").exists()


def test_mapping_a_role_to_a_group_applies_it_to_its_members_and_audits_both_ways(scim):
    kim = records.provision(scim.directory, "kim@acme.test")
    lee = records.provision(scim.directory, "lee@acme.test")
    staff = records.group(scim.directory, "Staff", members=[kim, lee])

    records.set_role(staff, "admin")

    assert (role_of(kim), role_of(lee)) == ("admin", "admin")
    actor = f"scim:{scim.directory.public_id}"
    for action in ("org.member_role_changed", "scim.role_mapped"):
        changes = AuditEvent.objects.filter(action=action)
        assert sorted(e.target_id for e in changes) == sorted([str(kim.user_id), str(lee.user_id)])
        assert {e.actor_text for e in changes} == {actor}
        assert [e.data for e in changes] == [{"from": "member", "to": "admin"}] * 2


def test_owners_keep_their_role(scim):
    kim = records.provision(scim.directory, "kim@acme.test")
    Membership.objects.filter(user=kim.user).update(role="owner")  # made owner since

    records.group(scim.directory, "Staff", role="member", members=[kim])

    assert role_of(kim) == "owner"
    assert not AuditEvent.objects.filter(action="org.member_role_changed").exists()


def test_inactive_and_unlinked_records_are_not_remapped(scim):
    kim = records.provision(scim.directory, "kim@acme.test")
    records.deactivate(kim)
    outsider = records.provision(scim.directory, "eve@elsewhere.example")

    records.group(scim.directory, "IT admins", role="admin", members=[kim, outsider])

    assert role_of(kim) == "member"
    assert Membership.objects.get(user=kim.user).status == "removed"
    assert not AuditEvent.objects.filter(action="scim.role_mapped").exists()


def test_another_directorys_records_are_out_of_reach(scim, other_scim):
    theirs = records.provision(other_scim.directory, "kim@globex.test")
    records.group(other_scim.directory, "Everyone", role="member", members=[theirs])
    scim.directory.default_role = "admin"  # what Acme would give anyone in no mapped group
    scim.directory.save(update_fields=["default_role"])

    # Acme's directory names Globex's record: nothing happens to it.
    with transaction.atomic():
        accounts.sync_roles(scim.directory, [theirs.pk], actor=DirectoryActor(scim.directory))

    assert role_of(theirs) == "member"
    assert not AuditEvent.objects.filter(action="scim.role_mapped").exists()
