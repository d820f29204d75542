"""The second step of every login.

Every way in (password, emailed login code, social and enterprise login, a password reset that
logs in) ends in allauth's login stages, so one stage makes all of them ask for the second
factor before the session counts as logged in.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseRedirect
from django.urls import reverse

from accounts.mfa import policy
from accounts.mfa.allauth_glue import LoginStage, authentication_records
from accounts.takeover.stage import step_up_for

STAGE_KEY = "gatehouse_mfa"
# First factors that came from the mailbox: an emailed code proves nothing more after them.
MAILBOX_METHODS = ("code", "password_reset")


def first_factor(request: Any, user: Any) -> dict[str, Any]:
    records = authentication_records(request, user)
    return records[0] if records else {}


def used_passwordless_passkey(request: Any, user: Any) -> bool:
    """A passkey with user verification (PIN or biometric) is two factors in one."""
    return any(
        r.get("method") == "passkey" and r.get("passwordless")
        for r in authentication_records(request, user)
    )


class SecondFactorStage(LoginStage):
    key = STAGE_KEY
    urlname = "mfa:authenticate"

    def handle(self) -> tuple[HttpResponseRedirect | None, bool]:
        user = self.login.user
        if user is None:
            return None, True
        # A risky sign-in under a policy that asks for it (accounts/takeover/stage.py) needs
        # the second step even where it would otherwise be skipped.
        risky = step_up_for(self.request)
        if not policy.has_mfa(user):
            if risky and first_factor(self.request, user).get("method") not in MAILBOX_METHODS:
                return HttpResponseRedirect(reverse("takeover:confirm")), True
            return None, True
        if used_passwordless_passkey(self.request, user):
            return None, True
        if not risky and policy.trusts_first_factor_mfa(self.request, self.login):
            return None, True
        return HttpResponseRedirect(reverse("mfa:authenticate")), True
