"""After the sign-in that makes profile fields due, the person's pages lead to the questions
page first, until they answer (or skip what may be skipped). API calls, form posts, signing
out, the second-factor pages and the provider's endpoints are never held up: the provider
asks on its own, before consent (provider/views/authorize.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from accounts.mfa.middleware import ALLOWED_URL_NAMES as MFA_ENROLLMENT_PAGES
from accounts.profiling import prompts
from config.api_framework import is_api_request
from consent.middleware import ALLOWED_URL_NAMES as CONSENT_PAGES
from consent.middleware import PRIVACY_RIGHTS_URL_NAMES

# Pages that stay open while fields are due: the questions themselves, signing out, setting
# up a second factor, accepting new terms (that gate comes first) and the privacy rights.
OPEN_URL_NAMES = (
    MFA_ENROLLMENT_PAGES
    | CONSENT_PAGES
    | PRIVACY_RIGHTS_URL_NAMES
    | {
        "selfservice:profile-questions",
        "mfa:authenticate",
        "javascript-catalog",
    }
)
OPEN_PREFIXES = ("/static/", "/o/", "/.well-known/", "/api/", "/scim/", "/accounts/")


class ProfileQuestionsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        if request.method != "GET" or not prompts.pending_in_session(request):
            return None
        if not request.user.is_authenticated or is_api_request(request):
            return None
        match = request.resolver_match
        if match is not None and match.view_name in OPEN_URL_NAMES:
            return None
        if request.path.startswith(OPEN_PREFIXES):
            return None
        return HttpResponseRedirect(prompts.questions_url(request.get_full_path()))
