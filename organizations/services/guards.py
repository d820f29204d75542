"""Who may act on an organization: the permission check every service starts with, and the
refusals of access that go on record (``org.access_denied``)."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from audit.actions import Action, Outcome
from audit.services import record
from config.refusals import Refusal, service
from organizations import permissions
from organizations.models import Membership, Organization
from organizations.permissions import Perm


def deny(
    actor: Membership | User | None,
    org: Organization,
    what: str,
    *,
    message: str = "You are not allowed to do that in this organization.",
    status: int = 403,
    **data: Any,
) -> Refusal:
    """A refusal that goes on record (``org.access_denied``) once its transaction is undone."""
    user = actor.user if isinstance(actor, Membership) else actor
    return Refusal(
        message,
        status=status,
        action=Action.ORG_ACCESS_DENIED,
        actor=user,
        organization=org,
        details={"attempted": what, **data},
    )


def require(actor: Membership | None, org: Organization, perm: Perm, what: str) -> Membership:
    """``actor`` as a membership of ``org`` allowed ``perm``, or a 403 refusal that goes on
    record with ``what`` was attempted. Writes nothing: it joins the caller's transaction."""
    if actor is None or actor.organization_id != org.pk or not permissions.allowed(actor, perm):
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
