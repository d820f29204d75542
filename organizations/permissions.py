"""Who may do what in an organization: the one place role checks live (DESIGN.md).

Callers ask ``allowed(actor, Perm.X)`` or, for actions on another member,
``may_change_member(actor, target, new_role)``; nothing else compares roles.

An actor is a member (their ``Membership``) or an app calling the management API with a token
of its own (``AppActor``, e.g. ``provider.api.authentication.ClientActor``). An app holding
``organizations:write`` manages an organization as an admin would (members, invitations,
domains, policy, name and branding), in the one organization it is bound to or, unbound, in
any. It never grants or takes away the owner role, nor transfers ownership: who owns an
organization is decided by people. The one exception is an organization with no owner yet
(one an app has just created): the app may invite its first owner.
"""

from __future__ import annotations

import enum
from typing import Protocol, TypeGuard, runtime_checkable

from organizations.models import Membership, Role


class Perm(enum.StrEnum):
    VIEW = "view"  # the read-only member page
    MANAGE_MEMBERS = "manage_members"
    MANAGE_INVITATIONS = "manage_invitations"
    MANAGE_DOMAINS = "manage_domains"
    MANAGE_POLICY = "manage_policy"
    MANAGE_SETTINGS = "manage_settings"  # name, logo, colour
    MANAGE_SSO = "manage_sso"  # SSO connections: create, test, turn on and off, certificates
    MANAGE_SCIM = "manage_scim"  # the SCIM directory: on, off, pause, tokens, settings, roles
    MANAGE_APPLICATIONS = "manage_applications"  # the organization's own M2M apps (provider)
    VIEW_AUDIT = "view_audit"  # the audit log: read, filter, export, checkpoints
    MANAGE_INTEGRATIONS = "manage_integrations"  # webhooks and audit log streams
    TRANSFER_OWNERSHIP = "transfer_ownership"


@runtime_checkable
class AppActor(Protocol):
    """An app acting with a token of its own: no person, no membership. The API has already
    checked the token's permission (``organizations:write``) and, for a bound app, that the
    organization is its own; the services check the organization again."""

    @property
    def client_id(self) -> str: ...

    @property
    def organization_id(self) -> int | None:
        """The one organization the app is bound to; None: any organization."""

    @property
    def audit_text(self) -> str:
        """How the audit log names it (``client <client_id>``)."""


Actor = Membership | AppActor

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
            Perm.MANAGE_SCIM,
            Perm.MANAGE_APPLICATIONS,
            Perm.VIEW_AUDIT,
            Perm.MANAGE_INTEGRATIONS,
        }
    ),
    Role.OWNER: frozenset(Perm),
}
# What the management API lets an app change: an admin's rights, less what the API does not
# offer apps (SSO connections; other apps, which ``clients:write`` governs) and ownership.
_APP_GRANTS = frozenset(
    {
        Perm.VIEW,
        Perm.MANAGE_MEMBERS,
        Perm.MANAGE_INVITATIONS,
        Perm.MANAGE_DOMAINS,
        Perm.MANAGE_POLICY,
        Perm.MANAGE_SETTINGS,
    }
)
APP_OWNER_REFUSAL = (
    "An app may not grant or take away the owner role: an owner of the organization does "
    "that in the portal."
)


def is_app(actor: object) -> TypeGuard[AppActor]:
    return not isinstance(actor, Membership) and isinstance(actor, AppActor)


def acts_in(actor: Actor | None, org_id: int) -> bool:
    """Whether ``actor`` acts in organization ``org_id`` at all: a member of it, or an app
    bound to it or to none."""
    if isinstance(actor, Membership):
        return actor.organization_id == org_id
    return is_app(actor) and actor.organization_id in (None, org_id)


def allowed(actor: Actor | None, perm: Perm) -> bool:
    if isinstance(actor, Membership):
        return actor.is_active and perm in _GRANTS.get(actor.role, frozenset())
    return is_app(actor) and perm in _APP_GRANTS


def is_admin(membership: Membership | None) -> bool:
    return allowed(membership, Perm.MANAGE_MEMBERS)


def may_invite_as(actor: Actor, role: str, *, org_has_owner: bool = True) -> bool:
    """Admins invite members and admins; only owners invite owners. An app invites an owner
    only into an organization that has none."""
    if not allowed(actor, Perm.MANAGE_INVITATIONS):
        return False
    if role != Role.OWNER:
        return True
    if isinstance(actor, Membership):
        return actor.role == Role.OWNER
    return not org_has_owner


def may_change_member(actor: Actor, target: Membership, new_role: str | None = None) -> bool:
    """Whether ``actor`` may change ``target``'s role to ``new_role`` (or remove them, when
    ``new_role`` is None). Nobody changes their own role here (owners transfer ownership);
    admins and apps manage members and admins, never owners, and never make anyone an owner."""
    if not allowed(actor, Perm.MANAGE_MEMBERS) or not acts_in(actor, target.organization_id):
        return False
    if isinstance(actor, Membership):
        if actor.pk == target.pk:
            return False
        if actor.role == Role.OWNER:
            return True
    return target.role != Role.OWNER and new_role != Role.OWNER
