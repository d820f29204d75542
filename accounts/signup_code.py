"""Sign-up in one motion: the verification email carries a short code as well as its link, and
the code typed on the waiting page (same tab) verifies the address and finishes the login.

allauth's own code verification (``ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED``) is not used:
it is all or nothing (it removes the link, and every other verification email, the support
admin's resend and an added address included, would need a session to keep a code in), and its
pending state for a taken address cannot change the address, where a new account's can, so the
waiting page would tell the two apart (allauth's own TODO in ``EmailVerificationProcess``).

One pending sign-up per session, under ``SESSION_KEY``: the address, the account's id (none when
the address was taken: see accounts/enumeration.py), a keyed digest of the code (never the code),
when it was issued and last sent, and the counts of wrong codes and resends. Both paths keep the
same state and do the same work; only a new account's code is ever emailed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import get_adapter
from allauth.core.internal.cryptokit import normalize_user_code
from django.conf import settings
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare, salted_hmac

SESSION_KEY = "gatehouse_signup_code"
_SALT = "gatehouse.signup_code"


def _digest(code: str) -> str:
    return salted_hmac(_SALT, normalize_user_code(code), algorithm="sha256").hexdigest()


def max_attempts() -> int:
    return int(allauth_settings.EMAIL_VERIFICATION_BY_CODE_MAX_ATTEMPTS)


def lifetime() -> int:
    return int(allauth_settings.EMAIL_VERIFICATION_BY_CODE_TIMEOUT)


def resend_cooldown() -> int:
    return int(settings.GATEHOUSE_SIGNUP_CODE_RESEND_COOLDOWN)


def max_resends() -> int:
    return int(settings.GATEHOUSE_SIGNUP_CODE_MAX_RESENDS)


@dataclass
class Pending:
    """The session's pending sign-up code."""

    request: HttpRequest
    state: dict[str, Any]

    @property
    def email(self) -> str:
        return str(self.state["email"])

    @property
    def user_id(self) -> int | None:
        value = self.state.get("user_id")
        return int(value) if value is not None else None

    def cooldown_left(self) -> int:
        """Seconds until another code may be sent (0: now)."""
        waited = time.time() - float(self.state["sent_at"])
        return max(0, int(resend_cooldown() - waited + 0.999))

    @property
    def can_resend(self) -> bool:
        return int(self.state["resends"]) < max_resends()

    def matches(self, code: str) -> bool:
        """Whether ``code`` is the one issued; only a new account's code can ever match (a
        taken address's was never sent, and is refused even if guessed)."""
        if not code or len(code) > 64:
            return False
        right = constant_time_compare(_digest(code), str(self.state["digest"]))
        return right and self.user_id is not None

    def record_wrong(self) -> int:
        """Count a wrong code; returns the attempts left (0: the code is dead, and forgotten)."""
        self.state["attempts"] = int(self.state["attempts"]) + 1
        left = max_attempts() - int(self.state["attempts"])
        if left <= 0:
            forget(self.request)
        else:
            self._save()
        return max(left, 0)

    def reissue(self) -> str:
        """A fresh code for the same address (a resend): the old one stops working."""
        code = get_adapter(self.request).generate_email_verification_code()
        self.state.update(digest=_digest(code), sent_at=time.time(), at=time.time(), attempts=0)
        self.state["resends"] = int(self.state["resends"]) + 1
        self._save()
        return code

    def _save(self) -> None:
        self.request.session[SESSION_KEY] = self.state


def issue(request: HttpRequest, *, email: str, user_id: int | None) -> str:
    """Start (or restart) the session's pending sign-up for ``email`` and return its code.
    ``user_id`` is None for a taken address: the code is made, kept and never sent."""
    code = get_adapter(request).generate_email_verification_code()
    now = time.time()
    request.session[SESSION_KEY] = {
        "email": email,
        "user_id": user_id,
        "digest": _digest(code),
        "at": now,
        "sent_at": now,
        "attempts": 0,
        "resends": 0,
    }
    return code


def pending(request: HttpRequest) -> Pending | None:
    """The session's pending sign-up, unless there is none or its code has expired."""
    state = getattr(request, "session", {}).get(SESSION_KEY)
    if not isinstance(state, dict) or "digest" not in state:
        return None
    if time.time() - float(state.get("at", 0)) > lifetime():
        forget(request)
        return None
    return Pending(request, state)


def forget(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)
