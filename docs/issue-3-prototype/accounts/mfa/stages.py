from __future__ import annotations

from allauth.account.internal.flows.login import get_authentication_records
from allauth.account.stages import LoginStage
from allauth.core.internal.httpkit import headed_redirect_response
from django_otp import user_has_device


def used_passwordless_passkey(request, user) -> bool:
    return any(
        r.get("method") == "passkey" and r.get("passwordless")
        for r in get_authentication_records(request, user)
    )


class SecondFactorStage(LoginStage):
    key = "gatehouse_mfa"
    urlname = "mfa_authenticate"

    def handle(self):
        user = self.login.user
        if user is None or not user_has_device(user):
            return None, True
        if used_passwordless_passkey(self.request, user):
            return None, True
        self.state["required"] = True
        return headed_redirect_response("mfa_authenticate"), True
