"""Gatehouse's OpenID Connect provider: allauth's, with the checks issue 5 requires.

Registered through allauth's documented hook, SOCIALACCOUNT_PROVIDERS["openid_connect"]
["provider_class"], so it keeps the id "openid_connect", the SocialApp rows' provider value
and the URL names (openid_connect_login / openid_connect_callback); `package` points allauth
at sso/oidc/urls.py, so allauth's own OIDC views (which hard-code the stock adapter and skip
the ID token's signature check) are never mounted.
"""

from __future__ import annotations

import secrets
from typing import Any

from allauth.socialaccount.providers.base import AuthProcess
from allauth.socialaccount.providers.oauth2.utils import generate_code_challenge
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from django.http import HttpRequest

from sso.oidc.views import GatehouseOIDCAdapter


class GatehouseOIDCProvider(OpenIDConnectProvider):
    package = "sso.oidc"
    oauth2_adapter_class = GatehouseOIDCAdapter
    # allauth's token login (headless: a client posts an ID token) is not offered.
    supports_token_authentication = False

    def get_pkce_params(self) -> dict:
        # Always S256, whatever the app settings say.
        return generate_code_challenge()

    # Nothing from the browser's query string reaches the IdP: no ?scope=, no ?auth_params=
    # (prompt=none, acr_values, a nonce of the attacker's choosing...).
    def get_scope_from_request(self, request: HttpRequest) -> list[str]:
        return self.get_scope()

    def get_auth_params_from_request(self, request: HttpRequest, action: Any) -> dict:
        return self.get_auth_params()

    def get_redirect_from_request_kwargs(self, request: HttpRequest) -> dict:
        kwargs = super().get_redirect_from_request_kwargs(request)
        # An org connection only logs in: no "connect" (linking an IdP identity to whatever
        # account is signed in would bypass the domain and JIT rules), no "redirect".
        kwargs["process"] = AuthProcess.LOGIN
        return kwargs

    def redirect(self, request: HttpRequest, process: Any, next_url=None, data=None, **kwargs):
        nonce = secrets.token_urlsafe(32)
        auth_params = dict(kwargs.pop("auth_params", None) or self.get_auth_params())
        auth_params["nonce"] = nonce
        # The nonce goes into allauth's state (session-bound, single use, 10 minutes), next to
        # the PKCE verifier; the callback view hands it to the adapter.
        return super().redirect(
            request, process, next_url, data, auth_params=auth_params, nonce=nonce, **kwargs
        )

    def serialize(self) -> dict:
        # allauth keeps a pending login (waiting in the MFA stage, say) in the session with its
        # provider as {"id": "openid_connect", "app.client_id": ...}; two connections with the
        # same client id (different IdPs) then fail to resume (MultipleObjectsReturned, a 500).
        # The connection's provider_id is unique: get_provider() resolves it through get_app().
        return {**super().serialize(), "id": self.app.provider_id}

    # Identity and attributes: the subject is always the signed ID token's; userinfo (already
    # checked to carry the same sub) only adds claims the ID token lacks.
    @staticmethod
    def claims(data: dict) -> dict:
        return {**(data.get("userinfo") or {}), **data["id_token"]}

    def extract_uid(self, data: dict) -> str:
        return str(data["id_token"]["sub"])

    def extract_common_fields(self, data: dict) -> dict:
        return super().extract_common_fields({"id_token": self.claims(data)})

    def extract_email_addresses(self, data: dict) -> list:
        return super().extract_email_addresses({"id_token": self.claims(data)})


provider_classes = [GatehouseOIDCProvider]
