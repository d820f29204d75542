"""Each SAML assertion is accepted once, across every browser and worker.

One atomic cache entry per (connection, assertion id), kept until the assertion expires
(Redis ``SET NX PX`` in production), instead of a shared list to search. The session-bound
InResponseTo state already stops a replay in the same browser; this stops it everywhere else,
and is the only protection IdP-initiated logins have.
"""

from __future__ import annotations

import hashlib
import logging
import time

from django.core.cache import cache
from onelogin.saml2.constants import OneLogin_Saml2_Constants

logger = logging.getLogger(__name__)


class ReplayCacheDown(Exception):
    pass


def first_use(connection_id: int, assertion_id: str, not_on_or_after: float) -> bool:
    # python3-saml allows this much clock drift on NotOnOrAfter: keep the entry that long too.
    ttl = int(not_on_or_after - time.time()) + OneLogin_Saml2_Constants.ALLOWED_CLOCK_DRIFT
    digest = hashlib.sha256(assertion_id.encode()).hexdigest()
    try:
        return bool(cache.add(f"sso:saml:seen:{connection_id}:{digest}", 1, timeout=max(ttl, 1)))
    except Exception as exc:  # the cache backend's own errors (redis.ConnectionError, ...)
        # Without the cache no assertion can be proven fresh: refuse, never accept.
        logger.error("SAML replay cache unavailable: %s", type(exc).__name__)
        raise ReplayCacheDown from exc
