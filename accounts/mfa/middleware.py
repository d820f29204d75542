"""Users who must have MFA and have none can do nothing but enroll (or sign out).

"Must" is set on the user by support, or by the policy of an organization they belong to.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode

from accounts.mfa import policy
from audit.actions import Action
from audit.services import record
from config.api_framework import is_api_request, problem_response

# Where someone who must enroll may still go: the enrollment pages themselves (with the
# step-up they need), passkey registration, signing out, and the machinery pages need.
ALLOWED_URL_NAMES = {
    "mfa:security",
    "mfa:totp-add",
    "mfa:stepup",
    "mfa:stepup-email",
    "mfa:stepup-passkey-begin",
    "mfa:stepup-passkey-complete",
    "otp_webauthn:credential-registration-begin",
    "otp_webauthn:credential-registration-complete",
    "otp_webauthn:js-i18n-catalog",
    "account_logout",
    "healthz",
    "readyz",
}
_NOTED = "gatehouse_mfa_enrollment_noted"


class MFAEnrollmentMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):  # type: ignore[no-untyped-def]
        user = request.user
        if not user.is_authenticated:
            return None
        match = request.resolver_match
        name = match.view_name if match else ""
        if name in ALLOWED_URL_NAMES or request.path.startswith("/static/"):
            return None
        # One query for most users (no organization requires MFA of them).
        if not policy.enrollment_required(user):
            return None
        if policy.satisfies_enrollment(policy.enrolled_kinds(user)):
            return None
        if not request.session.get(_NOTED):
            request.session[_NOTED] = True
            record(Action.MFA_ENROLLMENT_REQUIRED, actor=user, target=user)
        if is_api_request(request):
            # An API client cannot follow a redirect to a page: it is told what to do and where.
            return problem_response(
                403,
                "Your organization requires a second factor: add one before using the API.",
                security_url=request.build_absolute_uri(reverse("mfa:security")),
            )
        query = urlencode({"next": request.get_full_path()}) if request.method == "GET" else ""
        target = reverse("mfa:security") + (f"?{query}" if query else "")
        return HttpResponseRedirect(target)
