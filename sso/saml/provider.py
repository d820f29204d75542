"""Gatehouse's SAML provider: allauth's, bound to a connection and its rules.

Swapped in with allauth's documented hook (``SOCIALACCOUNT_PROVIDERS["saml"]
["provider_class"]``). ``package`` makes allauth mount ``sso/saml/urls.py`` instead of its own
SAML URLs, so the endpoints that need Gatehouse's checks are Gatehouse's views.
"""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.providers.base import AuthProcess
from allauth.socialaccount.providers.saml.provider import SAMLProvider
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from onelogin.saml2.errors import OneLogin_Saml2_Error

from sso import entry
from sso.checks import Check, refused


class GatehouseSAMLProvider(SAMLProvider):
    package = "sso.saml"

    @property
    def connection(self) -> Any:
        return self.app.gatehouse_connection

    def get_redirect_from_request_kwargs(self, request: HttpRequest) -> dict:
        kwargs = super().get_redirect_from_request_kwargs(request)
        # An organization's connection only logs in. "connect" would attach the IdP identity to
        # whatever account is signed in, around the domain and JIT rules.
        kwargs["process"] = AuthProcess.LOGIN
        return kwargs

    def redirect(
        self,
        request: HttpRequest,
        process: Any,
        next_url: Any = None,
        data: Any = None,
        **kwargs: Any,
    ) -> HttpResponse:
        from sso.diagnostics import answer_refusal
        from sso.saml.config import build_auth

        connection = self.connection
        entry.check_can_start(request, connection, data)
        try:
            auth = build_auth(request, self.app)
            location = auth.login(return_to="")
        except OneLogin_Saml2_Error as exc:
            # The connection's settings no longer make a usable configuration (its only IdP
            # certificate expired, say): a named refusal, or the test's diagnostic. Returned:
            # allauth's login view hands a response on as it is.
            reason = f"The connection cannot start a sign-in: {exc}"
            return answer_refusal(
                request, connection, refused(Check.CONFIGURATION, connection, reason)
            )
        self.stash_redirect_state(
            request,
            AuthProcess.LOGIN,
            next_url,
            data,
            state_id=auth.get_last_request_id(),
            **kwargs,
        )
        return HttpResponseRedirect(location)

    def serialize(self) -> dict:
        # A login waiting in a later stage (second factor) is kept in the session; the
        # connection's slug finds it again whatever else shares its protocol.
        return {"id": self.app.provider_id}
