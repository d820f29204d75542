"""Organization-scoped sign-in at /o/authorize/: which organization, and whether its IdP
must be the one that signed the person in.

An app names the organization with ``organization=<public id or slug>``, or asks for the
``organization`` scope and lets the person pick (``provider.views.authorize``). An organization that
signs its people in through its IdP only ("SSO only" with an active connection) gets them
from there:

- signed out: straight to the IdP (one connection) or to Gatehouse's SSO page listing the
  organization's connections, then back to the authorization request;
- signed in, bound by the rule (``sso.enforcement.governing_memberships``: a non-owner member
  whom the organization vouches for) but not through one of its connections in this session:
  through the IdP again.

Owners are exempt, as at every login, so a broken IdP never locks an organization out.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from accounts.mfa.allauth_glue import authentication_records
from organizations.models import Membership, Organization, OrganizationPolicy
from sso.enforcement import governing_memberships
from sso.models import Connection

ORGANIZATION_SCOPE = "organization"


def organization_named(value: str) -> Organization | None:
    """The organization ``organization=`` names (public id or slug), member or not."""
    value = (value or "").strip()
    if not value or len(value) > 100:
        return None
    try:
        public_id = uuid.UUID(value)
    except ValueError:
        return Organization.objects.filter(slug=value).first()
    return Organization.objects.filter(public_id=public_id).first()


def sso_connections(organization: Organization) -> list[Connection]:
    """The active connections people must sign in through, if the organization is SSO only."""
    if not OrganizationPolicy.objects.filter(organization=organization, sso_only=True).exists():
        return []
    return list(Connection.objects.active().filter(organization=organization).order_by("pk"))


def sso_still_needed(
    request: HttpRequest, user: Any, organization: Organization
) -> list[Connection]:
    """The connections ``user`` must sign in through before a token for ``organization``; empty
    when the rule does not bind them or this session came through one of them already."""
    connections = sso_connections(organization)
    if not connections:
        return []
    bound = any(m.organization_id == organization.pk for m in governing_memberships(user))
    if not bound:
        return []
    slugs = {c.slug for c in connections}
    came_through = any(
        record.get("method") == "socialaccount" and record.get("provider") in slugs
        for record in authentication_records(request, user)
    )
    return [] if came_through else connections


def through_idp(request: HttpRequest, connections: list[Connection], next_url: str) -> HttpResponse:
    """To the IdP (one connection), or to the SSO page to pick one; back to ``next_url``."""
    from sso.views import start_login

    if len(connections) == 1:
        return start_login(request, connections[0], next_url=next_url)
    query = urlencode({"org": connections[0].organization.slug, "next": next_url})
    return HttpResponseRedirect(f"{reverse('sso:discover')}?{query}")


def memberships_to_choose(user: Any) -> list[Membership]:
    return list(
        Membership.objects.active()
        .filter(user=user)
        .select_related("organization")
        .order_by("organization__name")
    )


def authorize_again(
    request: HttpRequest, *, organization: str | None = None, drop_prompt: str = ""
) -> str:
    """This authorization request's address again, naming ``organization`` and without the
    ``drop_prompt`` prompt value once it has been answered."""
    params = parse_qsl(request.META.get("QUERY_STRING", ""), keep_blank_values=True)
    kept: list[tuple[str, str]] = []
    for name, value in params:
        if name == "organization" and organization is not None:
            continue
        if name == "prompt" and drop_prompt:
            value = " ".join(v for v in value.split() if v != drop_prompt)
            if not value:
                continue
        kept.append((name, value))
    if organization is not None:
        kept.append(("organization", organization))
    return f"{request.path}?{urlencode(kept)}"
