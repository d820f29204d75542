"""Members of an organization: joining, role changes, removal, leaving, ownership transfer, and
the cleanup that follows a removal (queued, or run at once by ``deprovision_now``).

Changes to who is an owner are serialised by a row lock on the organization (``_lock``): two
owners demoting each other, or leaving, at the same moment must not leave it without one.

The actor of a role change or a removal is a member or an app (``permissions.Actor``); an app
is held to an admin's rules and never grants or takes away the owner role
(``permissions.APP_OWNER_REFUSAL``).
"""

from __future__ import annotations

import logging
from typing import Any, overload

from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from accounts import extensions
from accounts.models import User
from audit.actions import Action
from audit.services import record
from config.refusals import NotFound, Refusal, service
from organizations import permissions
from organizations.models import Membership, Organization, Role
from organizations.permissions import Actor, Perm
from organizations.services.active import ACTIVE_ORG_SESSION_KEY
from organizations.services.guards import audit_actor, deny, not_allowed, require
from organizations.services.invitations import invitable_roles, withdraw_invitations

logger = logging.getLogger(__name__)


def _owners(org: Organization) -> int:
    return Membership.objects.for_org(org).active().filter(role=Role.OWNER).count()


@overload
def _lock(org: Organization, actor: None = None) -> None: ...
@overload
def _lock(org: Organization, actor: Membership) -> Membership: ...
@overload
def _lock(org: Organization, actor: Actor) -> Actor: ...
def _lock(org: Organization, actor: Actor | None = None) -> Actor | None:
    """Lock the organization's members against concurrent changes. Returns a member actor's
    membership as it is now, under the lock (their role may have just changed); an app as
    it is."""
    Organization.objects.select_for_update().filter(pk=org.pk).first()
    if not isinstance(actor, Membership):
        return actor
    current = Membership.objects.for_org(org).active().filter(pk=actor.pk).first()
    if current is None:
        raise NotFound("You are no longer a member of this organization.")
    return current


def lock_members(org: Organization) -> None:
    """Take the organization's member lock in the caller's transaction: for writers outside
    this module (a SCIM directory) that change memberships through its functions."""
    _lock(org)


def _last_owner(actor: Actor | User, org: Organization, what: str, message: str) -> Refusal:
    return deny(actor, org, what, message=message, status=409, reason="last owner")


def _locked_member(org: Organization, member_id: int) -> Membership:
    target = (
        Membership.objects.for_org(org)
        .active()
        .select_for_update()
        .select_related("user")
        .filter(pk=member_id)
        .first()
    )
    if target is None:
        raise NotFound("That member does not exist.")
    return target


def join(*, org: Organization, user: User, role: str, source: str, actor: Any) -> Membership:
    """``user``'s active membership of ``org``, created or brought back with ``role``; an
    active one is returned as it is. Runs in the caller's transaction. ``actor``: the person
    or the directory the audit log names (None: the person themself)."""
    membership, created = Membership.objects.select_for_update().get_or_create(
        organization=org, user=user, defaults={"role": role, "source": source}
    )
    if not created:
        if membership.is_active:
            return membership
        membership.status = Membership.Status.ACTIVE
        membership.role = role
        membership.source = source
        membership.ended_at = None
        membership.save(update_fields=["status", "role", "source", "ended_at"])
    record(
        Action.ORG_MEMBER_JOINED,
        actor=actor or user,
        organization=org,
        target=user,
        data={"role": role, "source": source},
    )
    return membership


@service
def change_role(*, actor: Actor, org: Organization, member_id: int, role: str) -> Membership:
    """Give a member another role. The last owner keeps theirs, and the invitations they sent
    for roles they may no longer hand out stop working."""
    if role not in Role.values:
        raise Refusal("Choose owner, admin or member.")
    actor = _lock(org, actor) or actor
    target = _locked_member(org, member_id)
    if not permissions.may_change_member(actor, target, role):
        owner_role = Role.OWNER in (target.role, role)
        message = not_allowed(actor, org, owner_role=owner_role)
        raise deny(actor, org, "change role", message=message, member=target.pk, role=role)
    if target.role == role:
        return target
    if target.role == Role.OWNER and _owners(org) == 1:
        raise _last_owner(
            actor,
            org,
            "change role",
            "An organization needs an owner: make someone else owner first.",
        )
    set_role(target, role, actor=audit_actor(actor))
    return target


def set_role(target: Membership, role: str, *, actor: Any) -> None:
    """Give a locked member ``role`` now, in the caller's transaction, after the caller has
    decided it may (``change_role``; a directory's group mapping, which never touches
    owners). Invitations they sent for roles they may no longer hand out stop working."""
    previous = target.role
    target.role = role
    target.save(update_fields=["role"])
    withdraw_invitations(target, keep_roles=invitable_roles(target))
    record(
        Action.ORG_MEMBER_ROLE_CHANGED,
        actor=actor,
        organization=target.organization,
        target=target.user,
        data={"from": previous, "to": role},
    )


def end_membership(target: Membership, by: Any = None) -> int:
    """End a locked membership now, in the caller's transaction (which has decided it may:
    ``remove_member``, ``leave``, a SCIM directory's deactivation); returns how many of their
    open invitations were withdrawn.
    ``by``: who ended it, for the token revocation's and the consent ledger's records (a
    person; an app is named in the removal's own audit event)."""
    from organizations.tasks import deprovision_membership

    target.status = Membership.Status.REMOVED
    target.ended_at = timezone.now()
    target.deprovisioned_at = None
    target.save(update_fields=["status", "ended_at", "deprovisioned_at"])
    withdrawn = withdraw_invitations(target, keep_roles=[])
    # Tokens issued through the organization stop working now, not when the cleanup runs.
    extensions.hooks.end_app_tokens(
        user=target.user,
        reason="removed_from_organization",
        organization=target.organization,
        actor=by if isinstance(by, User) else None,
    )
    # Access ends now (every org page and API call checks for an active membership); the
    # cleanup of what was granted through the organization runs in the background, and runs
    # again from the beat schedule if the broker was down.
    transaction.on_commit(lambda: _queue(deprovision_membership, target.pk), robust=True)
    return withdrawn


def _queue(task: Any, *args: Any) -> None:
    try:
        task.delay(*args)
    except (BrokerError, OSError):  # broker down or unreachable (on_commit logs anything else)
        logger.warning("could not queue %s; the sweep will retry", task.name)


@service
def remove_member(*, actor: Actor, org: Organization, member_id: int) -> Membership:
    """End another member's membership; their access ends at once, the cleanup follows."""
    actor = _lock(org, actor) or actor
    target = _locked_member(org, member_id)
    if not permissions.may_change_member(actor, target):
        message = not_allowed(actor, org, owner_role=target.role == Role.OWNER)
        raise deny(actor, org, "remove member", message=message, member=target.pk)
    if target.role == Role.OWNER and _owners(org) == 1:
        raise _last_owner(actor, org, "remove member", "The last owner cannot be removed.")
    withdrawn = end_membership(target, by=audit_actor(actor))
    # A directory that provisioned them (SCIM) must not quietly bring them back.
    extensions.hooks.member_removed(target)
    record(
        Action.ORG_MEMBER_REMOVED,
        actor=audit_actor(actor),
        organization=org,
        target=target.user,
        data={"role": target.role, "invitations_withdrawn": withdrawn},
    )
    return target


@service
def remove_member_by_staff(*, actor: User, membership_id: int, reason: str) -> Membership:
    """Support staff end a membership from the person's admin page, for a stated reason.

    The organization's own rules still hold: the last owner cannot be removed (the members
    would be left with nobody to manage it). The caller checks the staff member's Django
    permission; the cleanup follows as for any removal."""
    from accounts.services import clean_reason

    reason = clean_reason(reason)
    found = Membership.objects.filter(pk=membership_id).select_related("organization").first()
    if found is None:
        raise NotFound("That membership does not exist.")
    org = found.organization
    _lock(org)
    target = _locked_member(org, membership_id)
    if target.role == Role.OWNER and _owners(org) == 1:
        raise _last_owner(
            actor,
            org,
            "remove member",
            "The last owner cannot be removed: another member must be made an owner first.",
        )
    withdrawn = end_membership(target, by=actor)
    extensions.hooks.member_removed(target)
    record(
        Action.ORG_MEMBER_REMOVED,
        actor=actor,
        organization=org,
        target=target.user,
        data={
            "role": target.role,
            "invitations_withdrawn": withdrawn,
            "by_support": True,
            "reason": reason,
        },
    )
    return target


@service
def leave(*, membership: Membership) -> Membership:
    """End one's own membership, unless one is the last owner."""
    org = membership.organization
    _lock(org)
    target = _locked_member(org, membership.pk)
    if target.role == Role.OWNER and _owners(org) == 1:
        raise _last_owner(
            target, org, "leave", "You are the last owner: transfer ownership before leaving."
        )
    withdrawn = end_membership(target, by=target.user)
    record(
        Action.ORG_MEMBER_LEFT,
        actor=target.user,
        organization=org,
        target=target.user,
        data={"role": target.role, "invitations_withdrawn": withdrawn},
    )
    return target


@service
def transfer_ownership(*, actor: Membership, org: Organization, member_id: int) -> Membership:
    """Make another member the owner; the previous owner stays on as an admin."""
    actor = _lock(org, actor) or actor
    require(actor, org, Perm.TRANSFER_OWNERSHIP, "transfer ownership")
    target = _locked_member(org, member_id)
    if target.pk == actor.pk:
        raise Refusal("You already own this organization.")
    Membership.objects.filter(pk=target.pk).update(role=Role.OWNER)
    Membership.objects.filter(pk=actor.pk).update(role=Role.ADMIN)
    target.role, actor.role = Role.OWNER, Role.ADMIN
    record(
        Action.ORG_OWNERSHIP_TRANSFERRED,
        actor=actor.user,
        organization=org,
        target=target.user,
        data={"previous_owner_now": Role.ADMIN.value},
    )
    return target


class SessionStoreDown(Exception):
    """The session store could not be read or written while deprovisioning: the membership
    has ended, its sessions still point at the organization. Running again finishes it."""


def deprovision_now(membership_id: int) -> str:
    """Clean up after a removed membership here and now, without Celery: what the queued
    ``organizations.tasks.deprovision_membership`` does (which stays as the backstop, and
    finds the work done). Runs outside any transaction (after the removal committed); safe to
    run twice. Raises ``SessionStoreDown`` if the session store fails."""
    membership = Membership.objects.filter(pk=membership_id).first()
    if membership is None or membership.is_active:
        return "not removed"
    if membership.deprovisioned_at is not None:
        return "already done"
    try:
        cleared = clear_active_org(membership.user_id, membership.organization_id)
    except Exception as exc:  # the session store (or its table) is down: the caller retries
        raise SessionStoreDown(str(exc)) from exc
    done = finish_deprovisioning(membership_id=membership.pk, sessions_cleared=cleared)
    return "done" if done else "changed meanwhile"


def clear_active_org(user_id: int, org_id: int) -> int:
    """Drop the organization from every stored session of the person that has it as the
    active one; returns how many. The session store is not transactional."""
    from importlib import import_module

    from allauth.usersessions.models import UserSession
    from django.conf import settings

    store = import_module(settings.SESSION_ENGINE).SessionStore
    cleared = 0
    for session_key in UserSession.objects.filter(user_id=user_id).values_list(
        "session_key", flat=True
    ):
        session = store(session_key)
        if session.exists(session_key) and session.get(ACTIVE_ORG_SESSION_KEY) == org_id:
            del session[ACTIVE_ORG_SESSION_KEY]
            session.save()
            cleared += 1
    return cleared


@service
def finish_deprovisioning(*, membership_id: int, sessions_cleared: int) -> bool:
    """Mark a removed membership cleaned up, once. False if it changed meanwhile (rejoined)
    or was already done."""
    locked = (
        Membership.objects.select_for_update()
        .select_related("organization", "user")
        .filter(pk=membership_id)
        .first()
    )
    if locked is None or locked.is_active or locked.deprovisioned_at is not None:
        return False
    locked.deprovisioned_at = timezone.now()
    locked.save(update_fields=["deprovisioned_at"])
    record(
        Action.ORG_MEMBER_DEPROVISIONED,
        actor=None,
        actor_text="deprovisioning job",
        organization=locked.organization,
        target=locked.user,
        data={"sessions_cleared": sessions_cleared},
    )
    return True
