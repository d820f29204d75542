"""An organization's admins manage its SCIM directory (sso.scim.directories): turn it on, choose
domains and roles, pause, resume, turn off, and map groups to roles. Each change is checked
against the acting membership's permission, applies to its own organization only, and is
audited with the admin as the actor. Tokens are in test_tokens.py, the pages in test_portal.py."""

from __future__ import annotations

from typing import Any

import pytest

from config.refusals import NotFound, Refusal
from organizations import permissions
from organizations.models import Domain
from organizations.permissions import Perm
from sso.scim import accounts, directories, tokens
from sso.scim.actor import DirectoryActor
from sso.scim.models import Directory, DirectoryToken, ScimGroup
from tests.scim.admins import ScimAdmins, events, scim_group, scim_user


@pytest.fixture
def world(db) -> ScimAdmins:
    return ScimAdmins()


def test_turning_scim_on_creates_the_directory_with_its_first_token_and_audits_it(world):
    done = directories.turn_on(actor=world.a_admin_membership, org=world.a)

    directory = Directory.objects.get(organization=world.a)
    assert done.directory == directory
    assert directory.status == Directory.Status.ACTIVE
    assert directory.created_by == world.a_admin
    # Every verified domain of the organization, and none of another's.
    assert list(directory.domains.all()) == [world.a_domain]
    assert done.issued is not None
    caller = tokens.authenticate(f"Bearer {done.issued.token}")
    assert caller is not None
    assert caller.directory == directory
    (enabled,) = events("scim.directory_enabled", world.a)
    assert enabled.actor == world.a_admin
    assert enabled.data["created"] is True
    (created,) = events("scim.token_created", world.a)
    assert created.actor == world.a_admin
    assert created.data["prefix"] == done.issued.row.prefix
    assert done.issued.token not in str(created.data)


def test_turning_scim_on_twice_changes_nothing_and_gives_no_second_token(world):
    directories.turn_on(actor=world.a_admin_membership, org=world.a)
    again = directories.turn_on(actor=world.a_admin_membership, org=world.a)

    assert again.issued is None
    assert DirectoryToken.objects.filter(directory=again.directory).count() == 1
    assert len(events("scim.directory_enabled", world.a)) == 1


def test_a_directory_turned_on_again_keeps_its_tokens_or_gets_a_new_one(world):
    first = directories.turn_on(actor=world.a_admin_membership, org=world.a)
    assert first.issued is not None
    directories.turn_off(actor=world.a_admin_membership, org=world.a)
    assert tokens.authenticate(f"Bearer {first.issued.token}") is None

    back = directories.turn_on(actor=world.a_admin_membership, org=world.a)
    assert back.issued is None
    assert tokens.authenticate(f"Bearer {first.issued.token}") is not None

    # With every token revoked, turning on again gives a fresh one.
    directories.turn_off(actor=world.a_admin_membership, org=world.a)
    directories.revoke_token(
        actor=world.a_admin_membership, org=world.a, token_id=first.issued.row.pk
    )
    fresh = directories.turn_on(actor=world.a_admin_membership, org=world.a)
    assert fresh.issued is not None
    assert tokens.authenticate(f"Bearer {fresh.issued.token}") is not None
    assert tokens.authenticate(f"Bearer {first.issued.token}") is None


def test_pause_and_resume_record_when_and_are_audited(world):
    done = directories.turn_on(actor=world.a_admin_membership, org=world.a)

    paused = directories.pause(actor=world.a_admin_membership, org=world.a)
    assert paused.status == Directory.Status.PAUSED
    assert paused.paused_at is not None
    # A paused directory's token still authenticates: the protocol layer answers 503.
    assert done.issued is not None
    assert tokens.authenticate(f"Bearer {done.issued.token}") is not None
    directories.pause(actor=world.a_admin_membership, org=world.a)  # harmless twice

    resumed = directories.resume(actor=world.a_admin_membership, org=world.a)
    assert resumed.status == Directory.Status.ACTIVE
    assert resumed.paused_at is None
    assert [e.actor for e in events("scim.directory_paused", world.a)] == [world.a_admin]
    (event,) = events("scim.directory_resumed", world.a)
    assert event.actor == world.a_admin
    assert event.data["paused_seconds"] >= 0


def test_turning_off_stops_every_token_and_keeps_the_records(world):
    done = directories.turn_on(actor=world.a_admin_membership, org=world.a)
    assert done.issued is not None
    record = scim_user(done.directory, "ann@a.example")

    directories.turn_off(actor=world.a_admin_membership, org=world.a)

    assert Directory.objects.get(organization=world.a).status == Directory.Status.OFF
    assert tokens.authenticate(f"Bearer {done.issued.token}") is None
    assert record.__class__.objects.filter(pk=record.pk).exists()
    assert [e.actor for e in events("scim.directory_disabled", world.a)] == [world.a_admin]
    with pytest.raises(Refusal, match="SCIM is off"):
        directories.pause(actor=world.a_admin_membership, org=world.a)


def test_services_without_a_directory_answer_404(world):
    for call in (directories.pause, directories.resume, directories.turn_off):
        with pytest.raises(NotFound):
            call(actor=world.a_admin_membership, org=world.a)
    assert not Directory.objects.exists()


def test_settings_take_only_verified_domains_of_the_organization(world):
    directories.turn_on(actor=world.a_admin_membership, org=world.a)
    unverified = Domain.objects.create(
        organization=world.a, name="pending.a.example", verification_token=Domain.new_token()
    )

    for domain_ids in ([unverified.pk], [world.b_domain.pk], ["x"]):
        with pytest.raises(Refusal):
            directories.update_settings(
                actor=world.a_admin_membership,
                org=world.a,
                domain_ids=domain_ids,
                default_role="member",
                put_without_active_deactivates=False,
            )
    directory = Directory.objects.get(organization=world.a)
    assert list(directory.domains.all()) == [world.a_domain]

    directories.update_settings(
        actor=world.a_admin_membership,
        org=world.a,
        domain_ids=[],
        default_role="admin",
        put_without_active_deactivates=True,
    )
    directory.refresh_from_db()
    assert list(directory.domains.all()) == []
    assert directory.default_role == "admin"
    assert directory.put_without_active_deactivates is True
    (event,) = events("scim.directory_updated", world.a)
    assert event.actor == world.a_admin
    assert event.data["changed"] == ["default_role", "domains", "put_without_active_deactivates"]


def test_the_owner_role_cannot_be_the_default(world):
    directories.turn_on(actor=world.a_admin_membership, org=world.a)
    with pytest.raises(Refusal):
        directories.update_settings(
            actor=world.a_admin_membership,
            org=world.a,
            domain_ids=[world.a_domain.pk],
            default_role="owner",
            put_without_active_deactivates=False,
        )
    assert Directory.objects.get(organization=world.a).default_role == "member"


@pytest.fixture
def role_syncs(monkeypatch) -> list[tuple[Directory, list[int], Any]]:
    """What the directory services ask the accounts layer to recompute, through its contract
    (``sso.scim.accounts.sync_roles``, built in parallel): recorded, then passed on to it."""
    calls: list[tuple[Directory, list[int], Any]] = []
    real = accounts.sync_roles

    def sync_roles(directory, scim_user_ids, *, actor):
        calls.append((directory, sorted(scim_user_ids), actor))
        real(directory, scim_user_ids, actor=actor)

    monkeypatch.setattr(accounts, "sync_roles", sync_roles)
    return calls


def test_mapping_a_group_to_a_role_recomputes_its_members_roles(world, role_syncs):
    directory = directories.turn_on(actor=world.a_admin_membership, org=world.a).directory
    ann = scim_user(directory, "ann@a.example")
    bob = scim_user(directory, "bob@a.example")
    scim_user(directory, "cid@a.example")  # in no group: not recomputed
    group = scim_group(directory, "Engineering", [ann, bob])

    directories.set_group_role(
        actor=world.a_admin_membership, org=world.a, group_id=group.pk, role="admin"
    )

    group.refresh_from_db()
    assert group.role == "admin"
    ((synced_directory, ids, actor),) = role_syncs
    assert synced_directory == directory
    assert ids == sorted([ann.pk, bob.pk])
    assert isinstance(actor, DirectoryActor)
    assert actor.directory == directory
    (event,) = events("scim.group_role_set", world.a)
    assert event.actor == world.a_admin
    assert (event.data["before"], event.data["after"]) == (None, "admin")

    # The same role again: nothing to recompute, nothing to record.
    directories.set_group_role(
        actor=world.a_admin_membership, org=world.a, group_id=group.pk, role="admin"
    )
    assert len(role_syncs) == 1
    directories.set_group_role(
        actor=world.a_admin_membership, org=world.a, group_id=group.pk, role=None
    )
    assert ScimGroup.objects.get(pk=group.pk).role is None
    assert len(role_syncs) == 2


def test_a_new_default_role_recomputes_the_linked_members(world, role_syncs):
    directory = directories.turn_on(actor=world.a_admin_membership, org=world.a).directory
    linked = scim_user(directory, "member@a.example", user=world.a_member, link_state="linked")
    scim_user(directory, "nobody@elsewhere.example", link_state="outside_domains")

    directories.update_settings(
        actor=world.a_admin_membership,
        org=world.a,
        domain_ids=[world.a_domain.pk],
        default_role="admin",
        put_without_active_deactivates=False,
    )
    assert [(d, ids) for d, ids, _ in role_syncs] == [(directory, [linked.pk])]

    # Other settings alone recompute nothing.
    directories.update_settings(
        actor=world.a_admin_membership,
        org=world.a,
        domain_ids=[],
        default_role="admin",
        put_without_active_deactivates=False,
    )
    assert len(role_syncs) == 1


def test_group_roles_are_refused_for_other_organizations_groups_and_unknown_roles(
    world, role_syncs
):
    directories.turn_on(actor=world.a_admin_membership, org=world.a)
    theirs = directories.turn_on(actor=world.b_admin_membership, org=world.b).directory
    their_group = scim_group(theirs, "Bolt admins")

    with pytest.raises(NotFound):
        directories.set_group_role(
            actor=world.a_admin_membership, org=world.a, group_id=their_group.pk, role="admin"
        )
    with pytest.raises(Refusal):
        directories.set_group_role(
            actor=world.b_admin_membership, org=world.b, group_id=their_group.pk, role="owner"
        )
    assert ScimGroup.objects.get(pk=their_group.pk).role is None
    assert role_syncs == []


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("turn_on", {}),
        ("pause", {}),
        ("resume", {}),
        ("turn_off", {}),
        ("issue_token", {}),
        ("revoke_token", {"token_id": 1}),
        ("set_group_role", {"group_id": 1, "role": "admin"}),
        (
            "update_settings",
            {"domain_ids": [], "default_role": "admin", "put_without_active_deactivates": True},
        ),
    ],
)
def test_members_and_other_organizations_admins_are_refused_and_the_refusal_is_audited(
    world, name, kwargs
):
    directory = directories.turn_on(actor=world.a_admin_membership, org=world.a).directory
    before = list(Directory.objects.values_list("status", "default_role", "paused_at"))
    call = getattr(directories, name)

    for actor in (world.a_member_membership, world.b_admin_membership):
        with pytest.raises(Refusal) as refused:
            call(actor=actor, org=world.a, **kwargs)
        assert refused.value.status == 403

    assert list(Directory.objects.values_list("status", "default_role", "paused_at")) == before
    assert DirectoryToken.objects.filter(directory=directory).count() == 1
    denied = events("org.access_denied", world.a)
    assert [e.actor for e in denied] == [world.a_member, world.b_admin]
    assert all(e.data["attempted"] == f"scim.{name}" for e in denied)


def test_an_owner_manages_scim_too(world):
    owner = world.membership(world.a, world.a_owner)
    done = directories.turn_on(actor=owner, org=world.a)
    assert done.issued is not None
    assert events("scim.directory_enabled", world.a)[0].actor == world.a_owner


def test_owners_and_admins_manage_scim_and_members_and_apps_do_not(world):
    class App:
        client_id = "backend"
        organization_id = world.a.pk
        audit_text = "client backend"

    assert permissions.allowed(world.membership(world.a, world.a_owner), Perm.MANAGE_SCIM)
    assert permissions.allowed(world.a_admin_membership, Perm.MANAGE_SCIM)
    assert not permissions.allowed(world.a_member_membership, Perm.MANAGE_SCIM)
    # The management API offers no SCIM settings: an app holding organizations:write is refused.
    assert permissions.is_app(App())
    assert not permissions.allowed(App(), Perm.MANAGE_SCIM)
