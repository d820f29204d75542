"""The Django admin behind a second factor.

Staff sign in at the ordinary login page (throttled, blocked-user check, second step); the
admin then also needs the session to be OTP-verified. Staff who are signed in but not verified
are sent to verify (or, with no factor yet, to enroll one) and brought back afterwards.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django_otp.admin import OTPAdminSite


class GatehouseAdminSite(OTPAdminSite):
    site_header = "Gatehouse administration"
    site_title = "Gatehouse admin"

    def __init__(self, name: str = "admin") -> None:
        # OTPAdminSite names itself "otpadmin"; keep the admin's usual URL namespace.
        super().__init__(name)

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        user = request.user
        verified = getattr(user, "is_verified", lambda: False)()  # set by OTPMiddleware
        if user.is_authenticated and user.is_active and user.is_staff and not verified:
            from accounts.mfa import policy

            target = reverse("mfa:stepup") if policy.has_mfa(user) else reverse("mfa:security")
            next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
            if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
                next_url = reverse("admin:index")
            return HttpResponseRedirect(f"{target}?{urlencode({REDIRECT_FIELD_NAME: next_url})}")
        return super().login(request, extra_context)
