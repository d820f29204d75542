"""Consent receipts: one compact JWS per consent event, signed once when the event is written
and kept as issued.

A receipt names the person only by their pseudonymous ``public_id`` (no email, name, address or
user agent), so a kept receipt says nothing about anyone once the account is erased. It holds
the policy version's SHA-256, so the text agreed to can be checked against the published copy
(``/privacy/policies/<document>/<version>.txt``). An OAuth consent's receipt also holds the
event's ``details``: the app, the permissions allowed and the organization. Anyone verifies
it with the JWKS at ``/consent/.well-known/jwks.json``: pick the key by ``kid``, allow ES256
only.
"""

from __future__ import annotations

from typing import Any

import jwt
from django.conf import settings
from django.urls import reverse

from consent import keys

TYPE = "consent-receipt+jwt"


def claims(event: Any) -> dict[str, Any]:
    purpose = event.purpose
    version = event.version
    base = settings.GATEHOUSE_PUBLIC_URL
    body: dict[str, Any] = {
        "iss": base,
        "iat": int(event.recorded_at.timestamp()),
        "jti": str(event.public_id),
        "sub": str(event.user.public_id),
        "consent": {
            "purpose": {
                "id": str(purpose.public_id),
                "key": purpose.key,
                "name": purpose.name,
                "kind": purpose.kind,
                "lawful_basis": purpose.lawful_basis,
                "required": purpose.required,
                "organization": purpose.organization.slug if purpose.organization_id else None,
            },
            "decision": event.decision,
            "method": event.method,
            "occurred_at": event.occurred_at.isoformat(),
            "policy_version": None
            if version is None
            else {
                "id": version.pk,
                "document": version.document.key,
                "label": version.label,
                "published_at": version.published_at.isoformat(),
                "content_sha256": version.content_sha256,
                "text_url": base
                + reverse("consent:policy-text", args=[version.document_id, version.pk]),
            },
        },
    }
    if event.details:  # an OAuth consent: the app, its permissions, the organization
        body["consent"]["details"] = event.details
    return body


def sign(event: Any) -> str:
    key = keys.active_key()
    return jwt.encode(
        claims(event),
        keys.private_key(key),
        algorithm=keys.ALGORITHM,
        headers={"kid": key.kid, "typ": TYPE},
    )


class InvalidReceipt(Exception):
    pass


def verify(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The receipt's claims, if a key of ``jwks`` signed it (what any verifier would do)."""
    try:
        header = jwt.get_unverified_header(token)
        match = [k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")]
        if len(match) != 1 or header.get("alg") != keys.ALGORITHM:
            raise InvalidReceipt("unknown key or algorithm")
        public = jwt.PyJWK(match[0], algorithm=keys.ALGORITHM).key
        return jwt.decode(
            token,
            public,
            algorithms=[keys.ALGORITHM],
            options={"require": ["iss", "iat", "jti", "sub"], "verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidReceipt(str(exc)) from exc
