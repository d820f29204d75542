"""Logout tokens (OpenID Connect Back-Channel Logout 1.0, section 2.4): what Gatehouse POSTs
to an app's back-channel logout URI when a person's session or tokens end there.

Signed like the app's ID tokens (its algorithm, the active key of that algorithm), so the app
verifies it with the JWKS it already uses. It never carries a ``nonce`` (2.4: that would let
it pass for an ID token), and its ``typ`` says what it is (2.4, RFC 8725 3.11).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.conf import settings
from jwcrypto import jwt

from provider import keys
from provider.models import Application

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TYP = "logout+jwt"
LIFETIME_SECONDS = 120


def build(application: Application, *, sub: str, sid: str) -> str:
    """A signed logout token for ``application``: ``sub`` always, ``sid`` when the session
    is known (``""`` otherwise)."""
    key = keys.active_key(application.algorithm)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.GATEHOUSE_PUBLIC_URL,
        "aud": application.client_id,
        "iat": now,
        "exp": now + LIFETIME_SECONDS,
        "jti": uuid.uuid4().hex,
        "sub": sub,
        "events": {EVENT: {}},
    }
    if sid:
        claims["sid"] = sid
    token = jwt.JWT(header={"alg": key.alg, "typ": TYP, "kid": key.kid}, claims=claims)
    token.make_signed_token(key.private)
    return str(token.serialize())
