"""Failed-login throttling, kept in the shared cache (Redis in production).

Gatehouse counts failed password checks per client address and per attempted email, as Auth0's
brute-force protection does, and refuses further attempts for that address or email until the
window passes. A correct password does not reset the counters (an attacker could otherwise mix
in logins to an account they own), but a password reset clears the email's counter.

This replaces django-allauth's own ``login_failed`` limit on the login path: allauth keeps a
locked list of timestamps per rule and spends about twenty cache round trips on every login,
successful or not; fixed-window counters cost one read per login and two writes per failure.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class Limit:
    attempts: int
    window_seconds: int


def _limits() -> dict[str, Limit]:
    configured = settings.GATEHOUSE_FAILED_LOGIN_LIMITS
    return {scope: Limit(*values) for scope, values in configured.items()}


def _client_bucket(ip: str) -> str:
    """IPv6 clients are counted per /64: one host usually holds a whole prefix."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
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


def is_locked_out(*, ip: str | None, email: str) -> bool:
    """True if this address or this email has used up its failed attempts."""
    limits = _limits()
    keys = _keys(ip=ip, email=email)
    counts = cache.get_many(list(keys.values()))
    return any(
        counts.get(key, 0) >= limits[scope].attempts
        for scope, key in keys.items()
        if scope in limits
    )


def record_failure(*, ip: str | None, email: str) -> None:
    limits = _limits()
    for scope, key in _keys(ip=ip, email=email).items():
        if scope not in limits:
            continue
        # add() starts the window only if no window is open; incr() is atomic in Redis.
        cache.add(key, 0, timeout=limits[scope].window_seconds)
        try:
            cache.incr(key)
        except ValueError:  # the window closed between the two calls
            cache.set(key, 1, timeout=limits[scope].window_seconds)


def clear_email(email: str) -> None:
    key = _keys(ip=None, email=email).get("email")
    if key:
        cache.delete(key)
