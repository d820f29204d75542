"""Credential-stuffing detection, kept in the shared cache (Redis in production).

Stuffing is many accounts tried once each with leaked passwords, so the per-email and
per-address throttle (accounts/ratelimits.py) barely sees it. Two signals switch the sign-in
challenge on (a proof of work, accounts/takeover/challenge.py) instead of locking accounts:

* **one network, many addresses**: at least ``network_addresses`` distinct failing login
  names from one IPv4 /24 or IPv6 /64 within ``network_window`` seconds (counted with a
  HyperLogLog, so a burst of a million names costs a few kilobytes);
* **a rise across the system**: failures in the last ``global_window`` seconds at least
  ``global_failures`` and at least ``global_factor`` times the average of the
  ``baseline_window`` before (failures counted in buckets of a fifth of the window).

Each signal is a flag with a lifetime of its window, renewed while failures keep it up: the
challenge goes away on its own when the signal subsides. A failure costs one Lua script (one
round trip); a login form costs one MGET of the two flags. On a cache other than Redis (the
embedded mode) the same is done with plain cache calls, in this process only.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache

from accounts.takeover.risk import network_of

REQUEST_CHALLENGED = "_gatehouse_challenged"
_PREFIX = "stuffing"

# KEYS: network HLL, network flag, global flag, then the global buckets (the current first).
# ARGV: name digest, network window, network threshold, recent buckets, global minimum,
# global factor, baseline buckets, bucket seconds, global window.
# Returns {distinct names on the network, failures in the recent window, network flag, global
# flag}, each flag 0 (down), 1 (kept up) or 2 (switched on by this failure).
_RECORD = """
redis.call('PFADD', KEYS[1], ARGV[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
local distinct = redis.call('PFCOUNT', KEYS[1])
local net_flag = 0
if distinct >= tonumber(ARGV[3]) then
  net_flag = 2 - redis.call('EXISTS', KEYS[2])
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[2])
end
local keep = (tonumber(ARGV[4]) + tonumber(ARGV[7]) + 1) * tonumber(ARGV[8])
redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], keep)
local recent, baseline = 0, 0
local recent_buckets = tonumber(ARGV[4])
for i = 4, #KEYS do
  local value = tonumber(redis.call('GET', KEYS[i]) or '0')
  if i - 4 < recent_buckets then recent = recent + value else baseline = baseline + value end
end
local expected = baseline * recent_buckets / math.max(1, tonumber(ARGV[7]))
local global_flag = 0
if recent >= tonumber(ARGV[5]) and recent >= tonumber(ARGV[6]) * expected then
  global_flag = 2 - redis.call('EXISTS', KEYS[3])
  redis.call('SET', KEYS[3], '1', 'EX', ARGV[9])
end
return {distinct, recent, net_flag, global_flag}
"""


def _config() -> dict[str, int]:
    return dict(settings.GATEHOUSE_STUFFING)


def _bucket_seconds(config: dict[str, int]) -> int:
    return max(1, config["global_window"] // 5)


def _flag_keys(network: str) -> list[str]:
    return [f"{_PREFIX}:flag:net:{network}", f"{_PREFIX}:flag:global"]


def _bucket_keys(config: dict[str, int], now: float) -> tuple[list[str], int, int]:
    size = _bucket_seconds(config)
    recent = max(1, math.ceil(config["global_window"] / size))
    baseline = max(1, math.ceil(config["baseline_window"] / size))
    current = int(now // size)
    keys = [f"{_PREFIX}:fail:{current - i}" for i in range(recent + baseline)]
    return keys, recent, baseline


class _RedisStore:
    def __init__(self) -> None:
        from django_redis import get_redis_connection

        self._client = get_redis_connection("default")
        self._record = self._client.register_script(_RECORD)
        self._prefix = settings.CACHES["default"].get("KEY_PREFIX", "")

    def _full(self, keys: list[str]) -> list[str]:
        return [f"{self._prefix}:{key}" for key in keys]

    def flags(self, keys: list[str]) -> list[bool]:
        return [value is not None for value in self._client.mget(self._full(keys))]

    def record(self, keys: list[str], args: list[Any]) -> tuple[int, int, int, int]:
        distinct, recent, net_flag, global_flag = self._record(keys=self._full(keys), args=args)
        return int(distinct), int(recent), int(net_flag), int(global_flag)


class _CacheStore:
    """Any Django cache, for the embedded mode: the network's names as a set in one entry."""

    def flags(self, keys: list[str]) -> list[bool]:
        found = cache.get_many(keys)
        return [key in found for key in keys]

    def record(self, keys: list[str], args: list[Any]) -> tuple[int, int, int, int]:
        names_key, net_flag_key, global_flag_key, *buckets = keys
        name, net_window, net_threshold, recent_n, minimum, factor, baseline_n, size, window = args
        names = cache.get(names_key) or set()
        names.add(name)
        cache.set(names_key, names, timeout=net_window)
        net_flag = 0
        if len(names) >= net_threshold:
            net_flag = 1 if cache.get(net_flag_key) is not None else 2
            cache.set(net_flag_key, 1, timeout=net_window)
        keep = (recent_n + baseline_n + 1) * size
        cache.add(buckets[0], 0, timeout=keep)
        cache.incr(buckets[0])
        values = cache.get_many(buckets)
        counts = [int(values.get(key, 0)) for key in buckets]
        recent = sum(counts[:recent_n])
        expected = sum(counts[recent_n:]) * recent_n / max(1, baseline_n)
        global_flag = 0
        if recent >= minimum and recent >= factor * expected:
            global_flag = 1 if cache.get(global_flag_key) is not None else 2
            cache.set(global_flag_key, 1, timeout=window)
        return len(names), recent, net_flag, global_flag


_stores: dict[str, _CacheStore | _RedisStore] = {}


def _store() -> _CacheStore | _RedisStore:
    backend = str(settings.CACHES["default"]["BACKEND"])
    if backend not in _stores:
        _stores.clear()
        redis = backend == "django_redis.cache.RedisCache"
        _stores[backend] = _RedisStore() if redis else _CacheStore()
    return _stores[backend]


def challenge_in_force(ip: str | None) -> bool:
    """Whether sign-ins from ``ip`` must solve the challenge now (one cache round trip)."""
    return any(_store().flags(_flag_keys(network_of(ip) or "unknown")))


def record_failure(*, ip: str | None, login: str) -> list[str]:
    """Count a failed sign-in of ``login`` from ``ip``. Returns the signals this failure
    switched on ("network", "global"; usually none): the caller audits them."""
    config = _config()
    network = network_of(ip) or "unknown"
    name = hashlib.sha256(login.strip().lower().encode()).hexdigest()[:32]
    buckets, recent_n, baseline_n = _bucket_keys(config, time.time())
    keys = [f"{_PREFIX}:names:{network}", *_flag_keys(network), *buckets]
    args = [
        name,
        config["network_window"],
        config["network_addresses"],
        recent_n,
        config["global_failures"],
        config["global_factor"],
        baseline_n,
        _bucket_seconds(config),
        config["global_window"],
    ]
    _distinct, _recent, net_flag, global_flag = _store().record(keys, args)
    return [name for name, flag in (("network", net_flag), ("global", global_flag)) if flag == 2]


def signal_names(ip: str | None) -> list[str]:
    """Which signals are up for ``ip``: "network", "global" (for the audit event)."""
    net, whole = _store().flags(_flag_keys(network_of(ip) or "unknown"))
    return [name for name, up in (("network", net), ("global", whole)) if up]
