"""High-entropy secrets (OAuth client secrets, SCIM tokens): generated, shown once, stored as a
keyed HMAC-SHA256 digest.

DOT checks secrets with the password hasher (PBKDF2, a million iterations, about a quarter of
a second a request). A client secret is 256 random bits, so a fast keyed hash loses nothing:
nobody can guess it, and a leaked digest cannot be presented (nor tested offline without the
key, which lives in settings, not in the database).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as random
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class SecretDigest:
    key_id: str
    digest: str


def _keys() -> list[tuple[str, bytes]]:
    """(id, key) pairs, newest first. Without OAUTH_CLIENT_SECRET_KEYS one key is derived from
    SECRET_KEY (the production check asks for explicit keys)."""
    configured = list(getattr(settings, "GATEHOUSE_OAUTH_SECRET_KEYS", []) or [])
    if not configured:
        derived = hashlib.sha256(b"gatehouse-client-secret:" + settings.SECRET_KEY.encode())
        return [("k0", derived.digest())]
    pairs = []
    for entry in configured:
        key_id, _, key = entry.partition(":")
        if not key:
            key_id, key = hashlib.sha256(entry.encode()).hexdigest()[:8], entry
        pairs.append((key_id, key.encode()))
    return pairs


def new_secret() -> str:
    return random.token_urlsafe(32)


def digest_of(secret: str, *, purpose: str = "") -> SecretDigest:
    """``purpose`` keeps one kind of secret's digest from standing for another's (a SCIM token
    is digested as "scim-token"; client secrets, the first kind, have none)."""
    key_id, key = _keys()[0]
    return SecretDigest(key_id, _hmac(key, secret, purpose))


def matches(secret: str, *, key_id: str, digest: str, purpose: str = "") -> bool:
    """Whether ``secret`` is the one stored as ``digest`` under ``key_id`` (constant time)."""
    if not secret or not digest:
        return False
    for candidate_id, key in _keys():
        if candidate_id == key_id:
            return hmac.compare_digest(_hmac(key, secret, purpose), digest)
    return False


def _hmac(key: bytes, secret: str, purpose: str) -> str:
    message = f"{purpose}\0{secret}" if purpose else secret
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
