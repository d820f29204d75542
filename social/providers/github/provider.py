"""GitHub sign-in: allauth's GitHub provider, fed from a SocialProvider row.

Its address is the one GitHub's /user/emails marks primary, trusted only when GitHub marks it
verified too; the profile's public ``email`` (anything the person typed) is never used.
"""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.providers.base import AuthProcess
from allauth.socialaccount.providers.github.provider import GitHubProvider
from django.http import HttpRequest, HttpResponse

from config.refusals import Refusal, refusal_page
from social.providers.github.views import SocialGitHubAdapter

PROVIDER_CLASS_ID = "social_github"


def primary_address(data: dict) -> dict | None:
    emails = data.get("emails")
    for entry in emails if isinstance(emails, list) else []:
        if isinstance(entry, dict) and entry.get("primary") is True:
            email = entry.get("email")
            if isinstance(email, str) and email:
                return entry
    return None


class SocialGitHubProvider(GitHubProvider):
    id = PROVIDER_CLASS_ID
    slug = "social-github"  # the URL path: /accounts/social-github/login/[callback/]
    package = "social.providers.github"
    oauth2_adapter_class = SocialGitHubAdapter

    def get_default_scope(self) -> list[str]:
        return ["read:user", "user:email"]

    def get_scope_from_request(self, request: HttpRequest) -> list[str]:
        return self.get_scope()

    def get_auth_params_from_request(self, request: HttpRequest, action: Any) -> dict:
        return self.get_auth_params()

    def get_redirect_from_request_kwargs(self, request: HttpRequest) -> dict:
        kwargs = super().get_redirect_from_request_kwargs(request)
        if kwargs.get("process") != AuthProcess.CONNECT:
            kwargs["process"] = AuthProcess.LOGIN
        return kwargs

    def redirect(
        self, request: HttpRequest, process: Any, next_url: Any = None, data: Any = None, **kw: Any
    ) -> HttpResponse:
        row = getattr(self.app, "gatehouse_social", None)
        if row is None or not row.enabled:
            return refusal_page(
                request, Refusal("This sign-in provider is not available.", status=404)
            )
        return super().redirect(request, process, next_url, data, **kw)

    def extract_common_fields(self, data: dict) -> dict:
        primary = primary_address(data)
        return {
            "email": primary["email"] if primary else None,
            "username": data.get("login"),
            "name": data.get("name"),
        }

    def extract_email_addresses(self, data: dict) -> list[EmailAddress]:
        primary = primary_address(data)
        if primary is None:
            return []
        return [
            EmailAddress(
                email=primary["email"], verified=primary.get("verified") is True, primary=True
            )
        ]
