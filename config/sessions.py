"""Sessions in the shared cache (Redis in production), with fewer and cheaper round trips.

Django's cache sessions cost a login three Redis round trips beyond the cookie: one to ask
whether a freshly drawn key is taken, one ``add`` that creates the session under it (and
fails on a taken key, so the question was already answered, atomically), and at the end of
the request a ``get`` to check the session still exists (it may have been ended meanwhile: a
sign-out elsewhere, a block) before the ``set`` that saves it. Here the question is not asked,
and the check and the save are one ``SET ... XX`` (write only if the key exists), which is
also free of the race between Django's two commands. Every request that changes its session
saves one round trip.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, UpdateError
from django.contrib.sessions.backends.cache import SessionStore as CacheSessionStore

SESSION_KEY_LENGTH = 32
_KEY_SPACE = len(VALID_KEY_CHARS) ** SESSION_KEY_LENGTH


def new_session_key() -> str:
    """32 characters of 36 (165 bits), uniformly drawn like Django's ``get_random_string``,
    but from one draw of the system's random source instead of one per character."""
    number = secrets.randbelow(_KEY_SPACE)
    chars = []
    for _ in range(SESSION_KEY_LENGTH):
        number, digit = divmod(number, len(VALID_KEY_CHARS))
        chars.append(VALID_KEY_CHARS[digit])
    return "".join(chars)


class SessionStore(CacheSessionStore):
    if TYPE_CHECKING:  # Django's own, missing from its type stubs
        from django_redis.cache import RedisCache

        _cache: RedisCache  # config.settings pairs this store with django-redis

        def _get_session(self, no_load: bool = False) -> dict[str, Any]: ...

    def _get_new_session_key(self) -> str:
        # A collision is left to create(), whose add() refuses a taken key and draws again.
        return new_session_key()

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None or must_create:
            super().save(must_create=must_create)
            return
        # Only if the session still exists, as Django's get-then-set, in one command.
        saved = self._cache.set(
            self.cache_key, self._get_session(no_load=False), self.get_expiry_age(), xx=True
        )
        if not saved:
            raise UpdateError
