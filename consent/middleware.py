"""The re-acceptance gate: while a required purpose has a version the person has not accepted,
every page sends them to /account/privacy/accept/ first, whichever way they signed in
(password, emailed code, passkey, SSO, an invitation) and whether their session began before
the version was published or after.

It runs in ``process_view`` right after the MFA enrollment gate, so someone who must also set up
a second factor does that first: the MFA pages pass here only while that gate applies to them.
Logging out always works, and so do the pages of the person's privacy rights (their consents,
receipts, data export and account deletion): the terms gate the product, not the right to
leave it. Under /api/ the answer is a 403 problem, except for the person's own consent
endpoints, which a single-page app needs to show and accept the terms, and their own erasure
endpoint.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.http import urlencode

from accounts.mfa import middleware as mfa_gate
from accounts.mfa import policy as mfa_policy
from audit.actions import Action
from audit.services import record
from consent import selectors

ALLOWED_URL_NAMES = {
    "consent:accept",
    "consent:policy-version",
    "consent:policy-text",
    "consent:jwks",
    "account_logout",
    "healthz",
    "readyz",
}
# A person's privacy rights do not wait on accepting new terms: someone who would rather leave
# can still see and withdraw their consents, download receipts and export their data (with the
# step-up the download asks for). Nothing else of the product is reachable from these pages.
PRIVACY_RIGHTS_URL_NAMES = {
    "consent:privacy",
    "consent:decide",
    "consent:receipt",
    "consent:export-request",
    "consent:export-download",
    "consent:erasure-request",
    "consent:erasure-cancel",
    "mfa:stepup",
    "mfa:stepup-email",
    "mfa:stepup-passkey-begin",
    "mfa:stepup-passkey-complete",
}
# The person's own consent endpoints: what an app needs to show and accept the terms.
ALLOWED_API_PREFIXES = (
    "/api/v1/me/consents/",
    "/api/v1/me/consent-events/",
    "/api/v1/me/erasure/",
)
# The session key that says the person was sent to the re-acceptance page (audited once per
# session); the page clears it once they accept.
REACCEPTANCE_NOTED = "gatehouse_consent_required_noted"


def _mfa_enrollment_pending(user) -> bool:  # type: ignore[no-untyped-def]
    return mfa_policy.enrollment_required(user) and not mfa_policy.satisfies_enrollment(
        mfa_policy.enrolled_kinds(user)
    )


class ConsentRequiredMiddleware:
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
        if name in ALLOWED_URL_NAMES or name in PRIVACY_RIGHTS_URL_NAMES:
            return None
        if request.path.startswith("/static/"):
            return None
        if request.path.startswith(ALLOWED_API_PREFIXES):
            return None
        pending = selectors.pending_required(user).values_list("key", flat=True)[:1]
        if not list(pending):
            return None
        # The MFA enrollment pages, only while that gate holds the person: otherwise each gate
        # would send them to the other; and otherwise they are pages like any other.
        if name in mfa_gate.ALLOWED_URL_NAMES and _mfa_enrollment_pending(user):
            return None
        if not request.session.get(REACCEPTANCE_NOTED):
            request.session[REACCEPTANCE_NOTED] = True
            record(Action.CONSENT_RECONSENT_REQUIRED, actor=user, target=user)
        accept_url = reverse("consent:accept")
        if request.path.startswith("/api/"):
            return JsonResponse(
                {
                    "type": "https://gatehouse.dev/problems/consent-required",
                    "title": "Consent required",
                    "status": 403,
                    "detail": "Accept the updated terms before using the API.",
                    "consent_url": request.build_absolute_uri(accept_url),
                },
                status=403,
                content_type="application/problem+json",
            )
        query = urlencode({"next": request.get_full_path()}) if request.method == "GET" else ""
        return HttpResponseRedirect(accept_url + (f"?{query}" if query else ""))
