"""An organization's "SSO only" policy: its members whose address lies in its verified domains
sign in through its SSO connection, not by password, emailed code or passkey."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from audit.actions import Action, Outcome
from audit.services import record
from organizations.models import Membership, Organization
from sso import logins


def sso_only_organization(user: Any) -> Organization | None:
    """The organization whose SSO-only policy covers this user's address, if any (one query)."""
    domain = (getattr(user, "email", "") or "").rpartition("@")[2].lower()
    if not domain:
        return None
    membership = (
        Membership.objects.active()
        .filter(
            user=user,
            organization__policy__sso_only=True,
            organization__domains__name=domain,
            organization__domains__verified_at__isnull=False,
        )
        .select_related("organization")
        .first()
    )
    return membership.organization if membership else None


def refuse_unless_sso(request: HttpRequest, user: Any, signal_kwargs: dict) -> HttpResponse | None:
    org = sso_only_organization(user)
    if org is None:
        return None
    sociallogin = signal_kwargs.get("sociallogin")
    connection = logins.connection_of(sociallogin) if sociallogin is not None else None
    if connection is not None and connection.organization_id == org.pk:
        return None
    record(
        Action.LOGIN_SSO_REQUIRED,
        actor=None,
        actor_text=str(user),
        organization=org,
        target=user,
        outcome=Outcome.FAILURE,
    )
    return render(request, "sso/sso_required.html", {"org": org}, status=403)
