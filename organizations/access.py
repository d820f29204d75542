"""Resolving the organization of a request (portal and API alike), once.

``resolve_membership`` returns the organization of the URL's slug and the caller's *active*
membership in it. Someone who is not a member gets a 404 (the organization's existence is not
confirmed) and, when the organization exists, the probe is audited. A session older than the
organization's session lifetime is refused (``SessionTooOld``).
"""

from __future__ import annotations

import time
from typing import Any

from django.http import Http404, HttpRequest

from organizations.models import Membership, Organization, OrganizationPolicy
from organizations.services.guards import record_probe

SESSION_STARTED_KEY = "gatehouse_session_started"


class SessionTooOld(Exception):
    """The organization's policy ends sessions this old."""


def signed_in_at(request: HttpRequest, user: Any) -> float | None:
    """When this session signed in, by allauth's first authentication record, if it has one."""
    from accounts.mfa.allauth_glue import authentication_records

    records = authentication_records(request, user)
    if records and isinstance(records[0].get("at"), int | float):
        return float(records[0]["at"])
    return None


def session_started_at(request: HttpRequest, user: Any) -> float:
    """When this session signed in: allauth's first authentication record, or (for a session
    that has none) the first time Gatehouse looked."""
    recorded = signed_in_at(request, user)
    if recorded is not None:
        return recorded
    started = request.session.get(SESSION_STARTED_KEY)
    if not isinstance(started, int | float):
        started = time.time()
        request.session[SESSION_STARTED_KEY] = started
    return float(started)


def check_session_lifetime(request: HttpRequest, user: Any, org: Organization) -> None:
    minutes = (
        OrganizationPolicy.objects.filter(organization=org)
        .values_list("session_lifetime_minutes", flat=True)
        .first()
    )
    if minutes and time.time() - session_started_at(request, user) > minutes * 60:
        raise SessionTooOld()


def resolve_membership(request: HttpRequest, slug: str) -> tuple[Organization, Membership]:
    user = request.user
    membership = (
        Membership.objects.active()
        .select_related("organization")
        .filter(organization__slug=slug, user_id=user.pk or 0)
        .first()
    )
    if membership is None:
        org = Organization.objects.filter(slug=slug).first()
        if org is not None:
            record_probe(user=user, org=org, attempted=f"{request.method} {request.path}")
        raise Http404("No such organization.")
    check_session_lifetime(request, user, membership.organization)
    return membership.organization, membership
