"""Gatehouse's OpenID Connect provider: allauth's, with the checks enterprise SSO needs.

Swapped in with allauth's documented hook (``SOCIALACCOUNT_PROVIDERS["openid_connect"]
["provider_class"]``): it keeps allauth's id, URL names and the code-flow plumbing (state,
PKCE, code exchange), and ``package`` mounts sso/oidc/urls.py, whose views verify the ID token
(allauth's own code flow skips the signature check and has no nonce).
"""

from __future__ import annotations

import secrets
from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.providers.base import AuthProcess
from allauth.socialaccount.providers.oauth2.utils import generate_code_challenge
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from django.http import HttpRequest, HttpResponse

from config.refusals import Refusal
from sso import entry
from sso.diagnostics import answer_refusal
from sso.oidc.views import GatehouseOIDCAdapter


class GatehouseOIDCProvider(OpenIDConnectProvider):
    package = "sso.oidc"
    oauth2_adapter_class = GatehouseOIDCAdapter
    # allauth's token login (a client posts an ID token it got elsewhere) is not offered.
    supports_token_authentication = False

    @property
    def connection(self) -> Any:
        return getattr(self.app, "gatehouse_connection", None)

    def get_pkce_params(self) -> dict:
        # Always S256, whatever the settings say.
        return generate_code_challenge()

    # Nothing from the browser's query string reaches the IdP: no ?scope=, no ?auth_params=
    # (prompt=none, acr_values, a nonce of someone else's choosing...).
    def get_scope_from_request(self, request: HttpRequest) -> list[str]:
        return self.get_scope()

    def get_auth_params_from_request(self, request: HttpRequest, action: Any) -> dict:
        return self.get_auth_params()

    def get_redirect_from_request_kwargs(self, request: HttpRequest) -> dict:
        kwargs = super().get_redirect_from_request_kwargs(request)
        kwargs["process"] = AuthProcess.LOGIN  # no "connect", no "redirect"
        return kwargs

    def redirect(
        self,
        request: HttpRequest,
        process: Any,
        next_url: Any = None,
        data: Any = None,
        **kwargs: Any,
    ) -> HttpResponse:
        connection = self.connection
        if connection is None:
            raise entry.unavailable(request)  # not an SSO connection: see GatehouseOIDCAdapter
        entry.check_can_start(request, connection, data)
        nonce = secrets.token_urlsafe(32)
        auth_params = dict(kwargs.pop("auth_params", None) or self.get_auth_params())
        auth_params["nonce"] = nonce
        # The nonce is kept in allauth's state (bound to this session and provider, single
        # use, 10 minutes), next to the PKCE verifier; the callback view hands it over.
        try:
            return super().redirect(
                request,
                AuthProcess.LOGIN,
                next_url,
                data,
                auth_params=auth_params,
                nonce=nonce,
                **kwargs,
            )
        except Refusal as refusal:  # the discovery document could not be read
            # Returned: allauth's login view hands a response on as it is.
            return answer_refusal(request, connection, refusal)

    def serialize(self) -> dict:
        # A login waiting in a later stage is resumed by the connection's own id (two
        # connections may share a client id at different IdPs).
        return {"id": self.app.provider_id}

    # The subject is always the signed ID token's; userinfo (checked to be about the same
    # subject) only adds claims the ID token lacks.
    @staticmethod
    def claims(data: dict) -> dict:
        return {**(data.get("userinfo") or {}), **data["id_token"]}

    def extract_uid(self, data: dict) -> str:
        return str(data["id_token"]["sub"])

    @property
    def email_claim(self) -> str:
        connection = self.connection
        return (connection.email_attribute if connection is not None else "") or "email"

    def extract_common_fields(self, data: dict) -> dict:
        claims = self.claims(data)
        fields = super().extract_common_fields({"id_token": claims})
        fields["email"] = claims.get(self.email_claim)
        return fields

    def extract_email_addresses(self, data: dict) -> list[EmailAddress]:
        # Whether an address counts as verified is Gatehouse's decision (the org's verified
        # domains), never the IdP's email_verified claim: see sso.adapter.
        email = self.claims(data).get(self.email_claim)
        if not isinstance(email, str) or not email:
            return []
        return [EmailAddress(email=email, verified=False, primary=True)]
