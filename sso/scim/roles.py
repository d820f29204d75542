"""The org role a directory's groups give its people: the strongest role mapped to any of
their groups, else the directory's default role. Owners are never changed by it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from audit.actions import Action
from audit.services import record
from organizations.models import Membership, Role
from organizations.services.members import lock_members, set_role
from sso.admission import ROLE_STRENGTH
from sso.scim.actor import DirectoryActor
from sso.scim.models import Directory, LinkState, ScimGroupMember, ScimUser


def strongest(roles: Iterable[str | None], default: str) -> str:
    """The strongest mappable role among ``roles``; ``default`` when there is none."""
    known = [role for role in roles if role in ROLE_STRENGTH]
    return max(known, key=ROLE_STRENGTH.__getitem__) if known else default


def mapped_role(scim_user: ScimUser) -> str:
    """The role ``scim_user``'s groups give them now."""
    roles = ScimGroupMember.objects.filter(
        scim_user=scim_user, group__directory_id=scim_user.directory_id
    ).values_list("group__role", flat=True)
    return strongest(roles, scim_user.directory.default_role)


def sync_roles(directory: Directory, scim_user_ids: Iterable[int], *, actor: DirectoryActor) -> int:
    """Give each linked, active member among these records of ``directory`` the role their
    groups map to, in the caller's transaction; returns how many roles changed. Records of
    another directory are not found here. Each change is audited twice: the membership's
    ``org.member_role_changed`` and the directory's ``scim.role_mapped``."""
    ids = set(scim_user_ids)
    if not ids:
        return 0
    record_of = dict(
        ScimUser.objects.for_directory(directory)
        .filter(pk__in=ids, link_state=LinkState.LINKED, active=True, user__isnull=False)
        .values_list("user_id", "pk")
    )
    if not record_of:
        return 0
    groups_of: dict[int, list[str | None]] = defaultdict(list)
    for scim_user_id, role in ScimGroupMember.objects.filter(
        scim_user_id__in=record_of.values(), group__directory=directory
    ).values_list("scim_user_id", "group__role"):
        groups_of[scim_user_id].append(role)
    org = directory.organization
    lock_members(org)
    members = (
        Membership.objects.for_org(org)
        .active()
        .select_for_update()
        .select_related("user", "organization")
        .filter(user_id__in=record_of)
        .order_by("pk")
    )
    changed = 0
    for membership in members:
        role = strongest(groups_of[record_of[membership.user_id]], directory.default_role)
        if membership.role in (role, Role.OWNER):
            continue
        previous = membership.role
        set_role(membership, role, actor=actor)
        record(
            Action.SCIM_ROLE_MAPPED,
            actor=actor,
            organization=org,
            target=membership.user,
            data={"from": previous, "to": role},
        )
        changed += 1
    return changed
