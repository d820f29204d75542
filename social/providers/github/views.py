"""GitHub's OAuth endpoints. Tests point them at a loopback stand-in (``test_override``)."""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.providers.github.views import GitHubOAuth2Adapter
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from django.http import HttpRequest, HttpResponse

from config.refusals import Refusal, refusal_page
from social.models import Kind, test_override

WEB_URL = "https://github.com"
API_URL = "https://api.github.com"


def _web() -> str:
    return test_override(Kind.GITHUB) or WEB_URL


def _api() -> str:
    override = test_override(Kind.GITHUB)
    return f"{override}/api" if override else API_URL


class SocialGitHubAdapter(GitHubOAuth2Adapter):
    provider_id = "social_github"

    @property  # type: ignore[override]
    def access_token_url(self) -> str:
        return f"{_web()}/login/oauth/access_token"

    @property  # type: ignore[override]
    def authorize_url(self) -> str:
        return f"{_web()}/login/oauth/authorize"

    @property  # type: ignore[override]
    def profile_url(self) -> str:
        return f"{_api()}/user"

    @property  # type: ignore[override]
    def emails_url(self) -> str:
        return f"{_api()}/user/emails"

    def complete_login(self, request: HttpRequest, app: Any, token: Any, **kwargs: Any) -> Any:
        row = getattr(app, "gatehouse_social", None)
        if row is None or not row.enabled:
            raise Refusal("This sign-in provider is not available.", status=404)
        headers = {"Authorization": f"token {token.token}"}
        data = dict(self._get(self.profile_url, headers))
        # Always asked: the address and whether GitHub verified it come from here only.
        emails = self.get_emails(headers)
        data["emails"] = emails if isinstance(emails, list) else []
        return self.get_provider().sociallogin_from_response(request, data)

    def _get(self, url: str, headers: dict) -> Any:
        from allauth.socialaccount.adapter import get_adapter

        with get_adapter().get_requests_session() as session:
            response = session.get(url, headers=headers)
            response.raise_for_status()
            return response.json()


class _Callback(OAuth2CallbackView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().dispatch(request, *args, **kwargs)
        except Refusal as refusal:
            return refusal_page(request, refusal)


oauth2_login = OAuth2LoginView.adapter_view(SocialGitHubAdapter)
oauth2_callback = _Callback.adapter_view(SocialGitHubAdapter)
