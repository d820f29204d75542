"""Connections kept in each process between sign-ins, checked against a version in the shared
cache before every use.

Every sign-in through a connection needs its row, its organization, its IdP certificates and
its verified domains: three statements, about a sixth of a SAML sign-in, for configuration
that changes a few times a year. Each process keeps what it loaded, with the version it read
from the shared cache (Redis in production) *before* loading; every write that could change
what a sign-in decides (the connection, its certificates, its domains, the organization and
its verified domains) sets a new version (``sso.receivers``), so the next sign-in in every
process reads the connection afresh. What depends on the clock (which certificates are valid
now) is still decided at each use, from the certificates' dates.

Safety rests on three rules:

- The version is read before the rows, so an entry is never tagged newer than what it holds.
  A version that is missing (never set, expired, evicted) is never a match: the rows are read
  and not kept, and a version is started for the next sign-in, only for a connection that
  exists (a slug in a URL is anyone's to choose, and must not leave keys behind).
- A write sets a new version at once (a shared cache that does not answer makes the write
  fail: nothing can change unseen) and again once its transaction commits (a sign-in that read
  the rows between the two held the old ones).
- Nothing is kept when the shared cache does not answer, when the rows were read inside a
  transaction of Gatehouse's own (they may be uncommitted), or for longer than ``MAX_AGE``, a
  backstop should a commit's version ever be lost.

Only the connection's configuration is kept: who the person is, their account, memberships and
the organization's sign-in rules are read at every sign-in.

The shared cache must be shared: with the embedded mode's local-memory cache, a change made by
another process (a ``manage.py`` command) reaches a running server only after ``MAX_AGE``. A
Redis replica promoted before it saw the newest version is bounded the same way.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction

from config.refusals import inside_a_write
from sso.models import Connection

logger = logging.getLogger(__name__)

# Seconds an entry may serve at most, whatever the version says.
MAX_AGE = 300
# Seconds a version lives in the shared cache. A missing version never matches, so its expiry
# only costs a load; it keeps keys of deleted connections from living for ever.
VERSION_TTL = 24 * 3600


@dataclass(frozen=True)
class _Entry:
    version: str
    loaded_at: float
    connection: Connection


_entries: dict[str, _Entry] = {}


def _key(slug: str) -> str:
    return f"sso:connection-version:{slug}"


def current_version(slug: str) -> str | None:
    """The connection's version in the shared cache; None when there is none or the cache does
    not answer."""
    try:
        version = cache.get(_key(slug))
    except Exception:  # the cache backend's own errors (redis.ConnectionError, ...)
        logger.error("SSO connection version unavailable", exc_info=True)
        return None
    return str(version) if version is not None else None


def _start_version(slug: str) -> None:
    """Give a connection that has no version one, for the next sign-in to tag what it loads
    with. Only for connections that exist: a slug anyone can put in a URL must not leave a key
    behind."""
    try:
        cache.add(_key(slug), secrets.token_hex(8), timeout=VERSION_TTL)
    except Exception:
        logger.error("SSO connection version not started", exc_info=True)


def cached_connection(slug: str, load: Callable[[], Connection | None]) -> Connection | None:
    """The connection ``slug`` names, from this process's cache while its version holds, else
    from ``load`` (which reads the database). The object is shared: read it, never change it."""
    version = current_version(slug)
    entry = _entries.get(slug)
    if (
        version is not None
        and entry is not None
        and entry.version == version
        and time.monotonic() - entry.loaded_at < MAX_AGE
    ):
        return entry.connection
    connection = load()
    if connection is None or version is None or inside_a_write():
        _entries.pop(slug, None)
        if connection is not None and version is None:
            # Kept from the next load on: a version made now, after these rows were read,
            # could be newer than they are.
            _start_version(slug)
    else:
        _entries[slug] = _Entry(version, time.monotonic(), connection)
    return connection


def invalidate(slugs: Iterable[str]) -> None:
    """A write is changing these connections' configuration: every process must read them
    again. Runs now, and again when the write's transaction commits."""
    slugs = [s for s in slugs if s]
    if not slugs:
        return
    _bump(slugs)
    transaction.on_commit(lambda: _bump(slugs, after_commit=True))


def _bump(slugs: list[str], *, after_commit: bool = False) -> None:
    for slug in slugs:
        _entries.pop(slug, None)
    try:
        cache.set_many({_key(slug): secrets.token_hex(8) for slug in slugs}, timeout=VERSION_TTL)
    except Exception:
        if not after_commit:
            raise  # the write fails: no process may keep the configuration it changes
        # Committed already: MAX_AGE bounds how long another process can hold the old rows.
        logger.exception("SSO connection versions not updated after commit: %s", slugs)


def clear() -> None:
    """Forget every entry of this process (tests)."""
    _entries.clear()
