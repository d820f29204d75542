"""The organization a session works in: switching to one, and the session lifetime its policy
sets for that session.

These functions take the session (``request.session``), not the request: the caller says when
the session signed in, if it knows.
"""

from __future__ import annotations

import time

from django.contrib.sessions.backends.base import SessionBase

from accounts.models import User
from audit.actions import Action
from audit.services import record
from config.refusals import NotFound, service
from organizations.middleware import SESSION_DEADLINE_KEY
from organizations.models import Membership, Organization, OrganizationPolicy

ACTIVE_ORG_SESSION_KEY = "gatehouse_active_org"


@service
def switch_active_org(
    *,
    session: SessionBase,
    user: User,
    org: Organization | None,
    signed_in_at: float | None = None,
) -> None:
    """Make ``org`` the session's active organization (None: none at all). A session working
    in an organization with a session lifetime ends that long after ``signed_in_at`` (or after
    now, when the session has no record of signing in)."""
    if org is None:
        session.pop(ACTIVE_ORG_SESSION_KEY, None)
        return
    if not Membership.objects.for_org(org).active().filter(user=user).exists():
        raise NotFound("That organization does not exist.")
    record(Action.ORG_SWITCHED, actor=user, organization=org, target=org)
    minutes = (
        OrganizationPolicy.objects.filter(organization=org)
        .values_list("session_lifetime_minutes", flat=True)
        .first()
    )
    session[ACTIVE_ORG_SESSION_KEY] = org.pk
    if minutes:
        session[SESSION_DEADLINE_KEY] = (signed_in_at or time.time()) + minutes * 60
    else:
        session.pop(SESSION_DEADLINE_KEY, None)


def forget_active_org(session: SessionBase, org: Organization) -> None:
    """The session no longer works in ``org`` (its member left it)."""
    if session.get(ACTIVE_ORG_SESSION_KEY) == org.pk:
        session.pop(ACTIVE_ORG_SESSION_KEY, None)
