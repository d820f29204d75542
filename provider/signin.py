"""How the person at the authorization endpoint signed in, read from allauth's records.

allauth keeps, in the session, one record per authentication the session has seen (``password``,
``code``, ``passkey``, ``socialaccount``, ``mfa`` with a ``type``; each with ``at`` in epoch
seconds, and ``reauthenticated`` for a step-up). The ID token's ``auth_time``, ``amr`` and
``acr`` are derived from them here, never from ``last_login`` (DOT's default), which a login in
another browser moves.

``acr`` has two values. ``urn:gatehouse:mfa``: the session has seen a second factor or a
passkey. ``urn:gatehouse:pwd``: one factor only, whatever it was (password, emailed code, a
social or enterprise login). A relying party that asks ``acr_values=urn:gatehouse:mfa`` gets
a step-up when the person has a second factor to give.

oauthlib validates authorization requests without the Django request, so the authorization
view publishes it for the validator's ``validate_silent_*`` checks through ``serving()``.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest

from accounts.mfa.allauth_glue import authentication_records

MFA_ACR = "urn:gatehouse:mfa"
ONE_FACTOR_ACR = "urn:gatehouse:pwd"
ACR_VALUES = (ONE_FACTOR_ACR, MFA_ACR)

# RFC 8176 names for allauth's record methods and second-factor types.
_AMR_BY_METHOD = {"password": "pwd", "code": "otp", "passkey": "hwk", "socialaccount": "fed"}
_AMR_BY_MFA_TYPE = {
    "totp": "otp",
    "email": "otp",
    "backup_code": "otp",
    "recovery_codes": "otp",
    "passkey": "hwk",
    "webauthn": "hwk",
}

_current: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "provider_http_request", default=None
)


@contextlib.contextmanager
def serving(request: HttpRequest) -> Iterator[None]:
    token = _current.set(request)
    try:
        yield
    finally:
        _current.reset(token)


def current_request() -> HttpRequest | None:
    return _current.get()


@dataclass(frozen=True)
class SignIn:
    """What the session's records say: the latest authentication time and how."""

    records: tuple[dict[str, Any], ...]

    @property
    def times(self) -> list[float]:
        return [r["at"] for r in self.records if isinstance(r.get("at"), int | float)]

    @property
    def auth_time(self) -> datetime | None:
        times = self.times
        return datetime.fromtimestamp(max(times), tz=UTC) if times else None

    @property
    def has_mfa(self) -> bool:
        return any(r.get("method") in ("mfa", "passkey") for r in self.records)

    @property
    def acr(self) -> str:
        return MFA_ACR if self.has_mfa else ONE_FACTOR_ACR

    @property
    def amr(self) -> list[str]:
        values: list[str] = []
        for record in self.records:
            method = record.get("method")
            name = (
                _AMR_BY_MFA_TYPE.get(str(record.get("type", "")))
                if method == "mfa"
                else _AMR_BY_METHOD.get(str(method))
            )
            if name and name not in values:
                values.append(name)
        if any(r.get("method") == "mfa" for r in self.records):
            values.append("mfa")  # a second factor on top of the first (RFC 8176)
        return list(dict.fromkeys(values))

    def authenticated_since(self, timestamp: float) -> bool:
        """Whether the person authenticated (signed in or re-authenticated) at or after
        ``timestamp`` (epoch seconds)."""
        return any(at >= timestamp for at in self.times)


def sign_in_of(request: HttpRequest, user: Any) -> SignIn:
    if not getattr(user, "is_authenticated", False):
        return SignIn(records=())
    return SignIn(records=tuple(authentication_records(request, user)))
