"""The provider's signing keys: kept in the database, private halves encrypted with
FIELD_ENCRYPTION_KEYS, loaded once per process and key id.

A key is published (``next``) before it signs, signs while ``active``, stays published while
``retiring`` so tokens it signed still verify, and is dropped once ``retired``. The writes are
in ``provider.services.keys``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from jwcrypto import jwk

from config.encryption import decrypt
from provider.models import KeyState, SigningKey

PUBLISHED_STATES = (KeyState.NEXT, KeyState.ACTIVE, KeyState.RETIRING)


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    alg: str
    private: jwk.JWK


class NoSigningKey(Exception):
    """No active key for an algorithm: run ``manage.py rotate_signing_keys``."""


ACTIVE_KEY_SECONDS = 30
_cache: dict[str, LoadedKey] = {}
_active: dict[str, tuple[LoadedKey, float]] = {}
_lock = threading.Lock()


def generate(alg: str) -> jwk.JWK:
    if alg == "ES256":
        return jwk.JWK.generate(kty="EC", crv="P-256", use="sig", alg="ES256")
    if alg == "RS256":
        return jwk.JWK.generate(kty="RSA", size=3072, use="sig", alg="RS256")
    raise ValueError(f"unsupported signing algorithm {alg!r}")


def active_key(alg: str) -> LoadedKey:
    """The key that signs with ``alg`` now, decrypted and cached by kid.

    Which key is active is read again at most every ``ACTIVE_KEY_SECONDS`` (one query saved
    per token otherwise). A process may so go on signing with the key just made ``retiring``
    for that long, which verifies as well: retiring keys stay published for the longest
    token lifetime. The process that changes the active key forgets at once."""
    now = time.monotonic()
    known = _active.get(alg)
    if known is not None and known[1] > now:
        return known[0]
    row = (
        SigningKey.objects.filter(alg=alg, state=KeyState.ACTIVE)
        .values_list("kid", "private_jwk")
        .first()
    )
    if row is None:
        raise NoSigningKey(alg)
    loaded = _load(row[0], alg, row[1])
    _active[alg] = (loaded, now + ACTIVE_KEY_SECONDS)
    return loaded


def _load(kid: str, alg: str, encrypted: str) -> LoadedKey:
    loaded = _cache.get(kid)
    if loaded is None:
        with _lock:
            private = jwk.JWK.from_json(decrypt(encrypted))
            loaded = _cache[kid] = LoadedKey(kid=kid, alg=alg, private=private)
    return loaded


def published_jwks() -> dict[str, Any]:
    """The JWKS document: the public halves of every key not yet retired."""
    keys = SigningKey.objects.filter(state__in=PUBLISHED_STATES).order_by("-created_at")
    return {"keys": [dict(key.public_jwk) for key in keys]}


def public_keyset() -> jwk.JWKSet:
    keyset = jwk.JWKSet()
    for public in published_jwks()["keys"]:
        keyset.add(jwk.JWK(**public))
    return keyset


def forget_cached_keys() -> None:
    _cache.clear()
    _active.clear()
