"""The risk of one sign-in: a new device, a network never seen for this person, a burst of
failed passwords before the success, and whether the stuffing challenge was in force.

Assessed once per sign-in, after the first factor and before the second (``RiskStage``, a
login stage), kept in the session until the login is written (``AccountAdapter.login``
writes the row, with the login's other rows in one statement, and queues the new-device
email). Its cost on the login path is one SQL statement (three EXISTS on one index) and an
HMAC per device and network; ``bench/login.py`` prints it.
"""

from __future__ import annotations

import functools
import ipaddress
import secrets
from dataclasses import dataclass
from typing import Any

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core import signing
from django.db import connection
from django.http import HttpRequest
from django.utils.crypto import salted_hmac

from accounts.takeover.models import KnownSign

SESSION_KEY = "_gatehouse_risk"
_REQUEST_DEVICE = "_gatehouse_new_device_id"
_DEVICE_SALT = "gatehouse.takeover.device-cookie"


@dataclass
class Assessment:
    new_device: bool
    new_network: bool
    first_device: bool  # no device known for this person at all: their first sign-in
    failures_before: int
    challenged: bool
    device_digest: str
    network_digest: str
    network: str  # "203.0.113.0/24": shown in the email, never stored

    @property
    def risky(self) -> bool:
        """A sign-in from somewhere new, or after a burst of wrong passwords. The very first
        sign-in of a person is new everywhere, and is not risky for that alone."""
        burst = self.failures_before >= settings.GATEHOUSE_RISK_FAILURE_BURST
        if self.first_device:
            return burst
        return self.new_device or self.new_network or burst

    def audit_data(self) -> dict[str, Any]:
        return {
            "first_sign_in": self.first_device,
            "new_device": self.new_device,
            "new_network": self.new_network,
            "failures_before": self.failures_before,
            "challenged": self.challenged,
            "risky": self.risky,
        }


def digest(kind: str, value: str) -> str:
    """A keyed hash (HMAC-SHA256 under SECRET_KEY) of a device id or a network."""
    return salted_hmac(
        "gatehouse.takeover.known", f"{kind}:{value}", algorithm="sha256"
    ).hexdigest()


@functools.lru_cache(maxsize=4096)
def network_of(ip: str | None) -> str:
    """The network a client address belongs to for "have we seen it": IPv4 /24, IPv6 /64.
    Cached: parsing an address is a fair part of a sign-in's assessment, and the login form
    asks for the same address's network first (the stuffing flags)."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return ""
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def device_id(request: HttpRequest) -> tuple[str, bool]:
    """This browser's device id from its signed cookie, and whether it is a new one (no
    cookie, or a cookie whose signature fails: then a new id, set on the response by
    ``set_device_cookie``)."""
    existing = request.get_signed_cookie(
        settings.GATEHOUSE_DEVICE_COOKIE_NAME, default=None, salt=_DEVICE_SALT
    )
    if existing and len(existing) <= 64:
        return existing, False
    new = getattr(request, _REQUEST_DEVICE, None) or secrets.token_urlsafe(24)
    setattr(request, _REQUEST_DEVICE, new)
    return new, True


def signed_device_cookie(device: str) -> str:
    """The device cookie's value for ``device``, signed as ``device_id`` reads it."""
    return signing.get_cookie_signer(
        salt=settings.GATEHOUSE_DEVICE_COOKIE_NAME + _DEVICE_SALT
    ).sign(device)


def set_device_cookie(request: HttpRequest, response: Any) -> None:
    """Give a browser that had no device id the one its sign-in was assessed with."""
    new = getattr(request, _REQUEST_DEVICE, None)
    if new is None or response is None:
        return
    response.set_cookie(
        settings.GATEHOUSE_DEVICE_COOKIE_NAME,
        signed_device_cookie(new),
        max_age=settings.GATEHOUSE_DEVICE_COOKIE_AGE,
        httponly=True,
        secure=settings.SESSION_COOKIE_SECURE,
        samesite="Lax",
    )


@functools.cache
def _known_sql() -> str:
    table = connection.ops.quote_name(KnownSign._meta.db_table)
    return (
        f"SELECT EXISTS(SELECT 1 FROM {table} WHERE user_id = %s AND kind = 'device' "  # noqa: S608
        f"AND digest = %s), EXISTS(SELECT 1 FROM {table} WHERE user_id = %s "
        f"AND kind = 'network' AND digest = %s), EXISTS(SELECT 1 FROM {table} "
        "WHERE user_id = %s AND kind = 'device')"
    )


def assess(request: HttpRequest, user: Any, *, failures_before: int = 0) -> Assessment:
    """What is new about this sign-in of ``user``, in one query."""
    device, _ = device_id(request)
    network = network_of(get_adapter().get_client_ip(request))
    device_digest = digest("device", device)
    network_digest = digest("network", network) if network else ""
    with connection.cursor() as cursor:
        cursor.execute(_known_sql(), [user.pk, device_digest, user.pk, network_digest, user.pk])
        known_device, known_network, any_device = cursor.fetchone()
    from accounts.takeover import stuffing

    return Assessment(
        new_device=not known_device,
        new_network=bool(network) and not known_network,
        first_device=not any_device,
        failures_before=failures_before,
        challenged=bool(getattr(request, stuffing.REQUEST_CHALLENGED, False)),
        device_digest=device_digest,
        network_digest=network_digest,
        network=network,
    )


def keep(request: HttpRequest, assessment: Assessment) -> None:
    """Keep the assessment for the rest of this login (the second step is another request)."""
    request.session[SESSION_KEY] = dict(vars(assessment))  # flat: no need for asdict's copy


def kept(request: HttpRequest) -> Assessment | None:
    data = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if not isinstance(data, dict):
        return None
    try:
        return Assessment(**data)
    except TypeError:  # kept by another version of this code
        return None


def forget(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)
