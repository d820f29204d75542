"""The OpenID kinds of social login (Google, Microsoft, Apple, any OpenID provider).

allauth's OpenID Connect provider with Gatehouse's checks: the ID token is verified by
sso.oidc's processor (signature with the provider's published keys, issuer, audience, expiry,
the nonce sent with this sign-in), PKCE S256 where the provider supports it, and nothing from
the browser's query string (scope, auth params) reaches the provider.
"""

from __future__ import annotations

import secrets
from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.providers.base import AuthProcess
from allauth.socialaccount.providers.oauth2.utils import generate_code_challenge
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from django.http import HttpRequest, HttpResponse

from config.refusals import Refusal, refusal_page
from social.models import Kind, SocialProvider
from social.providers.oidc.views import SocialOIDCAdapter
from social.refusals import as_social

PROVIDER_CLASS_ID = "social_oidc"


def claim_is_true(value: Any) -> bool:
    # Apple sends its booleans as strings ("true").
    return value is True or (isinstance(value, str) and value.lower() == "true")


def email_verified(kind: str, claims: dict) -> bool:
    """Whether the provider vouches for the address it asserts. Microsoft has no
    ``email_verified`` in its tokens (its ``email`` can be any address a tenant admin typed):
    unverified unless a verification claim is present."""
    if kind == Kind.MICROSOFT:
        return claim_is_true(claims.get("email_verified")) or claim_is_true(claims.get("xms_edov"))
    return claim_is_true(claims.get("email_verified"))


class SocialOIDCProvider(OpenIDConnectProvider):
    id = PROVIDER_CLASS_ID
    package = "social.providers.oidc"
    oauth2_adapter_class = SocialOIDCAdapter
    supports_token_authentication = False

    @property
    def row(self) -> SocialProvider:
        return self.app.gatehouse_social  # type: ignore[attr-defined, no-any-return]

    def get_pkce_params(self) -> dict:
        if self.row.kind == Kind.APPLE:
            return {}  # Sign in with Apple does not take PKCE; the nonce binds the code instead
        return generate_code_challenge()  # always S256

    def get_scope_from_request(self, request: HttpRequest) -> list[str]:
        return self.get_scope()

    def get_auth_params_from_request(self, request: HttpRequest, action: Any) -> dict:
        return self.get_auth_params()

    def get_redirect_from_request_kwargs(self, request: HttpRequest) -> dict:
        kwargs = super().get_redirect_from_request_kwargs(request)
        if kwargs.get("process") != AuthProcess.CONNECT:
            kwargs["process"] = AuthProcess.LOGIN  # "redirect" is not offered
        return kwargs

    def redirect(
        self,
        request: HttpRequest,
        process: Any,
        next_url: Any = None,
        data: Any = None,
        **kwargs: Any,
    ) -> HttpResponse:
        nonce = secrets.token_urlsafe(32)
        auth_params = dict(kwargs.pop("auth_params", None) or self.get_auth_params())
        auth_params["nonce"] = nonce
        if self.row.kind == Kind.APPLE:
            # Apple sends the name and email scopes' answer only by form post.
            auth_params["response_mode"] = "form_post"
        try:
            # The nonce rides in allauth's state (this session, this provider, single use).
            return super().redirect(
                request, process, next_url, data, auth_params=auth_params, nonce=nonce, **kwargs
            )
        except Refusal as refusal:  # the discovery document could not be read
            return refusal_page(request, as_social(self.row, refusal))

    def get_default_scope(self) -> list[str]:
        if self.row.kind == Kind.APPLE:
            return ["openid", "name", "email"]
        return ["openid", "profile", "email"]

    def serialize(self) -> dict:
        return {"id": self.app.provider_id}

    # The subject is the signed ID token's; userinfo (about the same subject) adds claims.
    @staticmethod
    def claims(data: dict) -> dict:
        return {**(data.get("userinfo") or {}), **data["id_token"]}

    def extract_uid(self, data: dict) -> str:
        return str(data["id_token"]["sub"])

    def extract_common_fields(self, data: dict) -> dict:
        return super().extract_common_fields({"id_token": self.claims(data)})

    def extract_email_addresses(self, data: dict) -> list[EmailAddress]:
        claims = self.claims(data)
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            return []
        verified = email_verified(self.row.kind, claims)
        return [EmailAddress(email=email, verified=verified, primary=True)]
