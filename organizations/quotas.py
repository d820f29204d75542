"""Quotas on what one person, or one organization, may do in a window of time: creating
organizations and sending invitations. Past a quota the service refuses with a 429 that says
when to try again, and the refusal is on record as ``org.rate_limited``. An app calling the
management API with its own token has the quotas of one person (counted by its client id).

The counts live in the shared cache (Redis in production), so every web process sees the same
ones (accounts/ratelimits.py).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from accounts import ratelimits
from accounts.models import User
from audit.actions import Action
from config.refusals import Refusal
from organizations.models import Membership, Organization
from organizations.permissions import Actor


def _refusal(
    what: str, retry_after: int, *, user: Any, org: Organization | None, scope: str
) -> Refusal:
    minutes = max(1, round(retry_after / 60))
    plural = "s" if minutes > 1 else ""
    return Refusal(
        f"Too many {what} for now. Try again in about {minutes} minute{plural}.",
        status=429,
        retry_after=retry_after,
        action=Action.ORG_RATE_LIMITED,
        actor=user,
        organization=org,
        details={"attempted": what, "quota": scope, "retry_after": retry_after},
    )


def _key(actor: Any) -> str:
    """Whose count: a person's, or an app's."""
    if isinstance(actor, User):
        return f"user:{actor.pk}"
    return f"client:{actor.client_id}"


def spend_organization_creation(user: Any) -> None:
    """One more organization created by ``user`` (a person, or an app), or an ``Refusal``
    (429) past the quota."""
    limit = ratelimits.Limit(*settings.GATEHOUSE_ORG_CREATION_LIMIT)
    spent = ratelimits.spend(f"org-create:{_key(user)}", limit)
    if not spent.allowed:
        raise _refusal("new organizations", spent.retry_after, user=user, org=None, scope="person")


def spend_invitation(actor: Actor, org: Organization) -> None:
    """One more invitation email sent by ``actor`` (a member, or an app) into ``org``, or an
    ``Refusal`` (429) once either the sender's or the organization's quota is used up."""
    limits = settings.GATEHOUSE_INVITATION_LIMITS
    sender = actor.user if isinstance(actor, Membership) else actor
    for scope, key in (("person", _key(sender)), ("organization", f"org:{org.pk}")):
        spent = ratelimits.spend(f"invite:{key}", ratelimits.Limit(*limits[scope]))
        if not spent.allowed:
            raise _refusal("invitations", spent.retry_after, user=sender, org=org, scope=scope)
