"""Access tokens: a signed JWT (RFC 9068) for an API that wants one, else an opaque random
string. Either way the database keeps only its SHA-256 (DOT's RFC 9700 storage), so
introspection and revocation work the same for both.
"""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

from django.conf import settings
from jwcrypto import jwt

from provider import keys
from provider.claims import actor_claim, organization_claims
from provider.models import TokenFormat


def token_expires_in(request: Any) -> int:
    """Seconds the access token of this request lives: its API's lifetime, else the default."""
    api = getattr(request, "api", None)
    if api is not None:
        return int(api.access_token_lifetime)
    return int(settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"])


def subject_of(request: Any) -> str:
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return str(user.public_id)
    return str(request.client.client_id)


def organization_of(request: Any) -> dict[str, Any]:
    """The organization a token acts in, for the API to scope by: the one a person signed in
    to (with their role), or the one an M2M app is bound to."""
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        context = getattr(request, "auth_context", None) or {}
        return organization_claims(user, context.get("organization_id"))
    organization = request.client.organization if request.client.organization_id else None
    if organization is None:
        return {}
    return {"org_id": str(organization.public_id), "org_slug": organization.slug}


def generate_access_token(request: Any) -> str:
    """oauthlib's token generator hook: called once per issued access token."""
    api = getattr(request, "api", None)
    request.jti = uuid.uuid4().hex
    if api is None or api.token_format != TokenFormat.JWT:
        return secrets.token_urlsafe(32)
    key = keys.active_key(api.signing_alg)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.GATEHOUSE_PUBLIC_URL,
        "aud": api.identifier,
        "sub": subject_of(request),
        "client_id": request.client.client_id,
        "iat": now,
        "nbf": now,
        "exp": now + int(request.expires_in),
        "jti": request.jti,
        "scope": " ".join(request.scopes or []),
    }
    claims.update(organization_of(request))
    claims.update(actor_claim(getattr(request, "auth_context", None) or {}))
    claims.update(getattr(request, "extra_token_claims", None) or {})
    token = jwt.JWT(header={"alg": key.alg, "typ": "at+jwt", "kid": key.kid}, claims=claims)
    token.make_signed_token(key.private)
    return str(token.serialize())
