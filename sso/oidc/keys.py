"""What an OpenID provider publishes about itself, fetched with Gatehouse's URL rules and cached
briefly in the shared cache: its discovery document and its signing keys (JWKS).

Every fetch here happens before a sign-in's transaction opens (see ``sso.oidc.views``).
"""

from __future__ import annotations

import json
from typing import Any

import jwt
from django.conf import settings
from django.core.cache import cache

from sso.checks import Check, refused
from sso.fetch import FetchError, check_url, fetch
from sso.models import Connection

DISCOVERY_CACHE_SECONDS = 300
JWKS_CACHE_SECONDS = 300
ENDPOINTS = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")


def discovery_document(connection: Connection, *, fresh: bool = False) -> dict:
    """The connection's IdP's discovery document, or the refusal of the ``discovery`` check."""
    key = f"sso:oidc:discovery:{connection.discovery_url}"
    doc = None if fresh else cache.get(key)
    if doc is None:
        try:
            doc = json.loads(fetch(connection.discovery_url, accept="application/json"))
        except (FetchError, ValueError) as exc:
            raise refused(
                Check.DISCOVERY, connection, f"The discovery document could not be read: {exc}"
            ) from exc
        if not isinstance(doc, dict):
            raise refused(
                Check.DISCOVERY, connection, "The discovery document is not a JSON object."
            )
        for name in ENDPOINTS:
            if name in doc:
                try:
                    check_url(str(doc[name]))
                except FetchError as exc:
                    raise refused(Check.DISCOVERY, connection, f"{name}: {exc}") from exc
        cache.set(key, doc, DISCOVERY_CACHE_SECONDS)
    return doc


def jwks_cache_key(jwks_uri: str) -> str:
    return f"sso:oidc:jwks:{jwks_uri}"


def pick_key(keys: dict, kid: Any, alg: str) -> Any:
    """The verification key in ``keys`` for this kid and the connection's algorithm, or None."""
    candidates = keys.get("keys")
    for jwk in candidates if isinstance(candidates, list) else []:
        if not isinstance(jwk, dict) or (kid is not None and jwk.get("kid") != kid):
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", alg) != alg:
            continue
        try:
            # PyJWK refuses a key whose type does not fit the configured algorithm.
            return jwt.PyJWK(jwk, algorithm=alg).key
        except jwt.PyJWTError:
            continue
    return None


class SigningKeys:
    """The IdP's signing keys for one sign-in through ``connection``: read from the cache,
    fetched when not there, fetched again for a key id the cached set does not know (the IdP
    rotated its keys), at most once per connection per interval."""

    def __init__(self, connection: Connection, jwks_uri: str | None) -> None:
        self.connection = connection
        self.jwks_uri = jwks_uri

    def key_for(self, kid: Any, alg: str) -> Any:
        """The key that verifies a token with this key id, or the ``signing_key`` refusal."""
        keys, fetched = self._key_set()
        key = pick_key(keys, kid, alg)
        if key is None and not fetched:
            # An unknown kid: the IdP may have rotated its keys since they were cached.
            if not self._may_refetch():
                raise refused(
                    Check.SIGNING_KEY,
                    self.connection,
                    f"No key of the IdP fits this ID token (key id {str(kid)[:100]!r}), and its "
                    f"key set was read again less than "
                    f"{settings.SSO_JWKS_REFETCH_INTERVAL_SECONDS} seconds ago.",
                )
            key = pick_key(self._key_set(fresh=True)[0], kid, alg)
        if key is None:
            raise refused(
                Check.SIGNING_KEY, self.connection, "No key of the IdP fits this ID token."
            )
        return key

    def _key_set(self, *, fresh: bool = False) -> tuple[dict, bool]:
        """The IdP's key set, and whether it was fetched just now (not read from the cache)."""
        if not self.jwks_uri:
            raise refused(Check.JWKS, self.connection, "The discovery document has no jwks_uri.")
        key = jwks_cache_key(self.jwks_uri)
        keys = None if fresh else cache.get(key)
        if keys is not None:
            return keys, False
        try:
            keys = json.loads(fetch(self.jwks_uri, accept="application/json"))
        except (FetchError, ValueError) as exc:
            raise refused(
                Check.JWKS, self.connection, f"The IdP's keys could not be read: {exc}"
            ) from exc
        if not isinstance(keys, dict):
            raise refused(Check.JWKS, self.connection, "The IdP's key set is not a JSON object.")
        cache.set(key, keys, JWKS_CACHE_SECONDS)
        return keys, True

    def _may_refetch(self) -> bool:
        """Whether this sign-in may read the key set again for an unknown key: the first to ask
        in an interval, per connection, across every process (an atomic add in the shared
        cache). Only the IdP can put an ID token in front of this check (it comes from the
        token endpoint), but one that names unknown keys must not make each sign-in a fetch."""
        return bool(
            cache.add(
                f"sso:oidc:jwks-refetch:{self.connection.pk}",
                True,
                settings.SSO_JWKS_REFETCH_INTERVAL_SECONDS,
            )
        )
