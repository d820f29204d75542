"""Failed-login throttling, kept in the shared cache (Redis in production).

Gatehouse counts password attempts per client address and per attempted email, as Auth0's
brute-force protection does, and refuses further attempts for that address or email until the
window passes. An attempt is counted *before* the password is checked, so a burst of parallel
guesses cannot all slip through while the first ones are still hashing; a correct password
then takes its own attempt back. (It does not reset the counters: an attacker could otherwise
mix in logins to an account they own.) A password reset clears the email's counter.

This replaces django-allauth's own ``login_failed`` limit on the login path: allauth keeps a
locked list of timestamps per rule and spends about twenty cache round trips on every login;
here a login costs one round trip to count and one to take the attempt back, each a small Lua
script on Redis (plain cache calls on any other cache backend).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache

# Count each key and start its window on the first count; return each count followed by the
# seconds left in its window.
_CONSUME = """
local out = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, ARGV[i]) end
  out[2 * i - 1] = count
  out[2 * i] = redis.call('TTL', key)
end
return out
"""
# Take an attempt back, but never bring a window back to life once it has expired.
_ROLLBACK = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
end
return 0
"""


@dataclass(frozen=True)
class Limit:
    attempts: int
    window_seconds: int


@dataclass
class Attempt:
    """One counted login attempt. When it is refused, ``retry_after`` is how many seconds are
    left until every limit it ran into has reset."""

    allowed: bool
    keys: dict[str, str] = field(default_factory=dict)
    retry_after: int = 0
    # Attempts for the email in its window before this one (a risk signal at sign-in).
    email_attempts_before: int = 0

    def rollback(self) -> None:
        """The password was right: this attempt does not count against anyone."""
        if self.keys:
            _store().rollback(list(self.keys.values()))
            self.keys = {}


def _limits() -> dict[str, Limit]:
    configured = settings.GATEHOUSE_FAILED_LOGIN_LIMITS
    return {scope: Limit(*values) for scope, values in configured.items()}


def _client_bucket(ip: str) -> str:
    """IPv6 clients are counted per /64: one host usually holds a whole prefix."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6 and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)  # ::ffff:a.b.c.d is the IPv4 client a.b.c.d
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return str(address)


def _keys(*, ip: str | None, email: str) -> dict[str, str]:
    keys = {}
    if ip:
        keys["ip"] = f"loginfail:ip:{_client_bucket(ip)}"
    if email:
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        keys["email"] = f"loginfail:email:{digest}"
    return keys


class _CacheStore:
    """Any Django cache: add() opens a window (and notes when it closes, as Django's cache API
    cannot tell), incr() counts in it."""

    def consume(self, keys: list[str], windows: list[int]) -> list[tuple[int, int]]:
        counts = []
        for key, window in zip(keys, windows, strict=True):
            now = time.time()
            if cache.add(key, 0, timeout=window):
                cache.set(f"{key}:closes", now + window, timeout=window)
            try:
                count = cache.incr(key)
            except ValueError:  # the window closed between the two calls
                cache.set(key, 1, timeout=window)
                cache.set(f"{key}:closes", now + window, timeout=window)
                count = 1
            closes = cache.get(f"{key}:closes", now + window)
            counts.append((count, max(0, round(closes - now))))
        return counts

    def rollback(self, keys: list[str]) -> None:
        for key in keys:
            with contextlib.suppress(ValueError):  # the window expired: nothing to take back
                cache.decr(key)

    def delete(self, key: str) -> None:
        cache.delete_many([key, f"{key}:closes"])


class _RedisStore:
    """django-redis: one atomic script per call, under the cache's key prefix."""

    def __init__(self) -> None:
        from django_redis import get_redis_connection

        client = get_redis_connection("default")
        self._consume = client.register_script(_CONSUME)
        self._rollback = client.register_script(_ROLLBACK)
        self._client = client
        self._prefix = settings.CACHES["default"].get("KEY_PREFIX", "")

    def _full(self, keys: list[str]) -> list[str]:
        return [f"{self._prefix}:ratelimit:{key}" for key in keys]

    def consume(self, keys: list[str], windows: list[int]) -> list[tuple[int, int]]:
        out = [int(value) for value in self._consume(keys=self._full(keys), args=windows)]
        return [(out[i], max(0, out[i + 1])) for i in range(0, len(out), 2)]

    def rollback(self, keys: list[str]) -> None:
        self._rollback(keys=self._full(keys))

    def delete(self, key: str) -> None:
        self._client.delete(*self._full([key]))


_stores: dict[str, _CacheStore | _RedisStore] = {}


def _store() -> _CacheStore | _RedisStore:
    backend = str(settings.CACHES["default"]["BACKEND"])
    if backend not in _stores:
        _stores.clear()
        redis = backend == "django_redis.cache.RedisCache"
        _stores[backend] = _RedisStore() if redis else _CacheStore()
    return _stores[backend]


def consume_attempt(*, ip: str | None, email: str) -> Attempt:
    """Count a password attempt for this address and email; ``allowed`` is False once either
    has used up its attempts for the current window."""
    limits = _limits()
    keys = {scope: key for scope, key in _keys(ip=ip, email=email).items() if scope in limits}
    if not keys:
        return Attempt(allowed=True)
    scopes = list(keys)
    counts = _store().consume(
        [keys[scope] for scope in scopes], [limits[scope].window_seconds for scope in scopes]
    )
    over = [
        seconds_left
        for scope, (count, seconds_left) in zip(scopes, counts, strict=True)
        if count > limits[scope].attempts
    ]
    before = {scope: count - 1 for scope, (count, _) in zip(scopes, counts, strict=True)}
    return Attempt(
        allowed=not over,
        keys=keys,
        retry_after=max(over, default=0),
        email_attempts_before=max(0, before.get("email", 0)),
    )


@dataclass(frozen=True)
class Spent:
    """One use of a quota: whether it was within the limit, and if not, how long to wait."""

    allowed: bool
    retry_after: int


def spend(key: str, limit: Limit) -> Spent:
    """Count one use of the quota ``key`` (e.g. ``"invite:org:42"``) in the shared cache:
    at most ``limit.attempts`` uses per window of ``limit.window_seconds``, the window starting
    at the first use."""
    count, seconds_left = _store().consume([f"quota:{key}"], [limit.window_seconds])[0]
    return Spent(allowed=count <= limit.attempts, retry_after=max(1, seconds_left))


def clear_email(email: str) -> None:
    key = _keys(ip=None, email=email).get("email")
    if key:
        _store().delete(key)
