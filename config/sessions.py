"""Sessions in the shared cache (Redis in production), one round trip cheaper to start.

Django's cache sessions ask the cache whether a freshly drawn key is taken before creating
the session under it, and the creation itself is an ``add`` that fails on a taken key (and
then draws another). The question is one round trip to Redis for every new session (every
login, every SAML sign-in twice), and the ``add`` already answers it, atomically.
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.cache import SessionStore as CacheSessionStore
from django.utils.crypto import get_random_string


class SessionStore(CacheSessionStore):
    def _get_new_session_key(self) -> str:
        # 32 characters of 36 (165 bits): a collision is left to create(), whose add()
        # refuses a taken key and draws again.
        return get_random_string(32, VALID_KEY_CHARS)
