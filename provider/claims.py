"""The claims Gatehouse states about a person, in ID tokens and at userinfo.

Each claim belongs to a scope (``CLAIM_SCOPES``): the person's email only with ``email``, the
name with ``profile``, the organization they signed in to with ``organization``. The
authentication context (``auth_time``, ``amr``, ``acr``, ``sid``) is not a scope's: it comes
from the code or refresh token the ID token is issued for (``id_token_context``).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from allauth.account.models import EmailAddress

from organizations.models import Membership, Organization

CLAIM_SCOPES = {
    "sub": "openid",
    "name": "profile",
    "email": "email",
    "email_verified": "email",
    "org_id": "organization",
    "org_slug": "organization",
    "org_roles": "organization",
    "phone_number": "phone",
    "phone_number_verified": "phone",
}


def person_claims(user: Any) -> dict[str, Any]:
    """sub, name, email and whether that address is verified."""
    return {
        "sub": str(user.public_id),
        "name": user.display_name or None,
        "email": user.email,
        "email_verified": EmailAddress.objects.filter(
            user=user, email__iexact=user.email, verified=True
        ).exists(),
    }


def profile_claim_scopes() -> dict[str, str]:
    """The claims of the operator's profile fields, each with the scope that releases it."""
    from accounts.profiling.selectors import active_fields

    return {field.claim: field.scope for field in active_fields()}


def profile_claims(user: Any) -> dict[str, Any]:
    """The person's answers to the profile fields as claims (``name``, ``phone_number`` and
    the operator's custom claims by key). An unanswered field is left out; ``name`` falls
    back to the display name (``person_claims``)."""
    from accounts.profiling import values
    from accounts.profiling.selectors import answers

    claims: dict[str, Any] = {}
    for answer in answers(user).values():
        if answer.value and answer.field.active:
            claims[answer.field.claim] = values.claim_value(answer.field, answer.value)
    if "phone_number" in claims:
        # Gatehouse checks the number's form, not that the person holds it.
        claims["phone_number_verified"] = False
    return claims


def organization_claims(user: Any, organization_id: int | None) -> dict[str, Any]:
    """org_id, org_slug and the member's role(s), while the membership is active."""
    if organization_id is None or user is None:
        return {}
    membership = (
        Membership.objects.active()
        .filter(user=user, organization_id=organization_id)
        .select_related("organization")
        .first()
    )
    if membership is None:
        return {}
    return {
        "org_id": str(membership.organization.public_id),
        "org_slug": membership.organization.slug,
        "org_roles": [membership.role],
    }


def active_organization(user: Any, value: str) -> Organization | None:
    """The organization ``organization=<public id or slug>`` names, if ``user`` is an active
    member of it; None otherwise (unknown and not-a-member look the same)."""
    value = (value or "").strip()
    if not value or len(value) > 100:
        return None
    memberships = Membership.objects.active().filter(user=user).select_related("organization")
    try:
        public_id = uuid.UUID(value)
    except ValueError:
        membership = memberships.filter(organization__slug=value).first()
    else:
        membership = memberships.filter(organization__public_id=public_id).first()
    return membership.organization if membership is not None else None


def id_token_context(context: dict[str, Any]) -> dict[str, Any]:
    """The authentication claims of an ID token from a grant's or refresh token's context."""
    claims: dict[str, Any] = {}
    auth_time = context.get("auth_time")
    if isinstance(auth_time, datetime):
        claims["auth_time"] = int(auth_time.timestamp())
    if context.get("amr"):
        claims["amr"] = list(context["amr"])
    if context.get("acr"):
        claims["acr"] = context["acr"]
    if context.get("sid"):
        claims["sid"] = context["sid"]
    claims.update(actor_claim(context))
    return claims


def actor_claim(context: dict[str, Any]) -> dict[str, Any]:
    """``act`` (RFC 8693): the staff member who was signed in as the person when the grant
    was made (impersonation, accounts/impersonation/), by their public id."""
    if context.get("act_sub"):
        return {"act": {"sub": str(context["act_sub"])}}
    return {}


def acting_staff(request: Any) -> str:
    """The public id of the staff member impersonating the person of ``request``, or ""."""
    impersonation = getattr(request, "impersonation", None)
    if impersonation is None:
        return ""
    return str(impersonation.staff.public_id)


ID_TOKEN_ALGS = ["RS256", "ES256"]


def read_id_token(token: str, *, accept_expired: bool) -> dict[str, Any] | None:
    """The claims of an ID token Gatehouse issued (``id_token_hint``), or None.

    The signature must verify with a published key (by ``kid``, RS256 or ES256 only: never
    ``none`` or HMAC), ``iss`` must be Gatehouse and ``aud`` one registered client. An expired
    token is accepted only where the caller says so (a logout hint may be old)."""
    from django.conf import settings
    from jwcrypto import jwt
    from jwcrypto.common import JWException

    from provider import keys
    from provider.models import Application

    if not isinstance(token, str) or not token or len(token) > 16_000:
        return None
    try:
        parsed = jwt.JWT(
            jwt=token,
            key=keys.public_keyset(),
            algs=ID_TOKEN_ALGS,
            check_claims={} if accept_expired else None,
        )
        claims = json.loads(parsed.claims)
    except (JWException, ValueError, TypeError, KeyError):
        return None
    if not isinstance(claims, dict) or claims.get("iss") != settings.GATEHOUSE_PUBLIC_URL:
        return None
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or len(audiences) != 1 or not isinstance(audiences[0], str):
        return None
    if not Application.objects.filter(client_id=audiences[0]).exists():
        return None
    return claims
