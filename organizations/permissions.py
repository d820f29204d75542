"""Who may do what in an organization: the one place role checks live (DESIGN.md).

Callers ask ``allowed(membership, Perm.X)`` or, for actions on another member,
``may_change_member(actor, target, new_role)``; nothing else compares roles.
"""

from __future__ import annotations

import enum

from organizations.models import Membership, Role


class Perm(enum.StrEnum):
    VIEW = "view"  # the read-only member page
    MANAGE_MEMBERS = "manage_members"
    MANAGE_INVITATIONS = "manage_invitations"
    MANAGE_DOMAINS = "manage_domains"
    MANAGE_POLICY = "manage_policy"
    MANAGE_SETTINGS = "manage_settings"  # name, logo, colour
    MANAGE_SSO = "manage_sso"  # SSO connections: create, test, turn on and off, certificates
    MANAGE_APPLICATIONS = "manage_applications"  # the organization's own M2M apps (provider)
    TRANSFER_OWNERSHIP = "transfer_ownership"


_GRANTS: dict[str, frozenset[Perm]] = {
    Role.MEMBER: frozenset({Perm.VIEW}),
    Role.ADMIN: frozenset(
        {
            Perm.VIEW,
            Perm.MANAGE_MEMBERS,
            Perm.MANAGE_INVITATIONS,
            Perm.MANAGE_DOMAINS,
            Perm.MANAGE_POLICY,
            Perm.MANAGE_SETTINGS,
            Perm.MANAGE_SSO,
            Perm.MANAGE_APPLICATIONS,
        }
    ),
    Role.OWNER: frozenset(Perm),
}


def allowed(membership: Membership | None, perm: Perm) -> bool:
    if membership is None or not membership.is_active:
        return False
    return perm in _GRANTS.get(membership.role, frozenset())


def is_admin(membership: Membership | None) -> bool:
    return allowed(membership, Perm.MANAGE_MEMBERS)


def may_invite_as(actor: Membership, role: str) -> bool:
    """Admins invite members and admins; only owners invite owners."""
    if not allowed(actor, Perm.MANAGE_INVITATIONS):
        return False
    return role != Role.OWNER or actor.role == Role.OWNER


def may_change_member(actor: Membership, target: Membership, new_role: str | None = None) -> bool:
    """Whether ``actor`` may change ``target``'s role to ``new_role`` (or remove them, when
    ``new_role`` is None). Nobody changes their own role here (owners transfer ownership);
    admins manage members and admins, never owners, and never make anyone an owner."""
    if not allowed(actor, Perm.MANAGE_MEMBERS) or actor.pk == target.pk:
        return False
    if actor.role == Role.OWNER:
        return True
    return target.role != Role.OWNER and new_role != Role.OWNER
