"""Who may act on an organization: the permission check every service starts with, and the
refusals of access that go on record (``org.access_denied``).

The actor is a member or an app (``organizations.permissions.Actor``); ``audit_actor`` is who
the audit log names for it: the member's person, or the app (recorded as ``client <id>``,
with no user key, by ``audit.services.record``)."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from audit.actions import Action, Outcome
from audit.services import record
from config.refusals import Refusal, service
from organizations import permissions
from organizations.models import Membership, Organization
from organizations.permissions import Actor, Perm


def audit_actor(actor: Actor | User | None) -> Any:
    """Who the audit log names for ``actor``: a member's person, or the app itself."""
    return actor.user if isinstance(actor, Membership) else actor


NOT_ALLOWED = "You are not allowed to do that in this organization."


def not_allowed(actor: Actor, org: Organization, *, owner_role: bool) -> str:
    """Why ``actor`` is refused a change that involves the owner role or not: an app acting in
    its organization is told that the owner role is the reason."""
    if owner_role and permissions.is_app(actor) and permissions.acts_in(actor, org.pk):
        return permissions.APP_OWNER_REFUSAL
    return NOT_ALLOWED


def deny(
    actor: Actor | User | None,
    org: Organization,
    what: str,
    *,
    message: str = NOT_ALLOWED,
    status: int = 403,
    **data: Any,
) -> Refusal:
    """A refusal that goes on record (``org.access_denied``) once its transaction is undone."""
    return Refusal(
        message,
        status=status,
        action=Action.ORG_ACCESS_DENIED,
        actor=audit_actor(actor),
        organization=org,
        details={"attempted": what, **data},
    )


def require(actor: Actor | None, org: Organization, perm: Perm, what: str) -> Actor:
    """``actor`` (a membership of ``org``, or an app that may act in it) allowed ``perm``, or
    a 403 refusal that goes on record with ``what`` was attempted. Writes nothing: it joins
    the caller's transaction."""
    if actor is None or not permissions.acts_in(actor, org.pk):
        raise deny(actor, org, what)
    if not permissions.allowed(actor, perm):
        raise deny(actor, org, what)
    return actor


@service
def record_probe(*, user: Any, org: Organization, attempted: str) -> None:
    """Someone who is not a member asked for this organization's pages or API."""
    record(
        Action.ORG_ACCESS_DENIED,
        actor=user,
        organization=org,
        outcome=Outcome.FAILURE,
        data={"attempted": attempted[:300], "reason": "not a member"},
    )
