"""The Django admin behind a second factor.

Staff sign in at the ordinary login page (throttled, blocked-user check, second step); the
admin then also needs the session to be OTP-verified with an authenticator app, a passkey or a
backup code. Staff who are signed in but not verified that way are sent to step up (or, with
no such factor yet, to enroll one) and brought back afterwards.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django_otp.admin import OTPAdminSite


def _verified_strongly(request: HttpRequest) -> bool:
    """Verified with an authenticator app, a passkey or a backup code: an emailed code is not
    enough for the admin (whoever holds the mailbox can also reset the password)."""
    from django_otp.plugins.otp_email.models import EmailDevice

    user = request.user
    if not getattr(user, "is_verified", lambda: False)():
        return False
    return not isinstance(getattr(user, "otp_device", None), EmailDevice)


class GatehouseAdminSite(OTPAdminSite):
    site_header = "Gatehouse administration"
    site_title = "Gatehouse admin"

    def __init__(self, name: str = "admin") -> None:
        # OTPAdminSite names itself "otpadmin"; keep the admin's usual URL namespace.
        super().__init__(name)

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and _verified_strongly(request)

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and user.is_active
            and user.is_staff
            and not _verified_strongly(request)
        ):
            from accounts.mfa import policy

            strong = policy.enrolled_kinds(user) & {policy.Kind.TOTP, policy.Kind.PASSKEY}
            target = reverse("mfa:stepup") if strong else reverse("mfa:security")
            next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
            if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
                next_url = reverse("admin:index")
            return HttpResponseRedirect(f"{target}?{urlencode({REDIRECT_FIELD_NAME: next_url})}")
        return super().login(request, extra_context)
