"""OIDC login and callback, with an adapter that verifies the ID token fully.

allauth does the code flow (state bound to the session and connection, PKCE S256, the code
exchange, userinfo). Gatehouse checks what allauth's code flow does not (``sso.oidc.processor``:
the ID token's signature with the connection's algorithm, issuer, audience, expiry, issue time,
the nonce sent with this login). Each failure is the refusal of a named check (audit, "Test
connection").
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from allauth.account.internal.decorators import login_not_required
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from config.refusals import Refusal
from sso import admission, entry
from sso.checks import Check, refused
from sso.diagnostics import answer_refusal, connection_test_result
from sso.models import Connection
from sso.oidc.keys import SigningKeys, discovery_document
from sso.oidc.processor import IDTokenProcessor
from sso.services import logins


class GatehouseOIDCAdapter(OpenIDConnectOAuth2Adapter):
    expected_nonce: str | None = None
    state: dict | None = None

    @staticmethod
    def begin_writes() -> None:
        """Open the transaction the login's writes run in (GatehouseCallbackView sets it)."""

    @property
    def connection(self) -> Connection:
        connection = getattr(self.get_provider().app, "gatehouse_connection", None)
        if connection is None:
            # Gatehouse's OIDC provider replaces allauth's for every app: one configured in
            # settings or in the SocialApp table would get none of the checks here. Not offered.
            raise entry.unavailable(self.request)
        return connection

    @property
    def openid_config(self) -> dict:
        if not hasattr(self, "_openid_config"):
            self._openid_config = discovery_document(self.connection)
        return self._openid_config

    def complete_login(
        self, request: HttpRequest, app: SocialApp, token: Any, **kwargs: Any
    ) -> Any:
        connection = self.connection
        testing = entry.is_test(request, connection)
        if not (connection.is_active or testing):
            raise entry.unavailable(request, connection)
        processor = IDTokenProcessor(
            connection,
            discovery=self.openid_config,
            client_id=app.client_id,
            expected_nonce=self.expected_nonce,
            keys=SigningKeys(connection, self.openid_config.get("jwks_uri")),
        )
        claims = processor.run(kwargs["response"].get("id_token"))
        userinfo = processor.userinfo(claims, lambda: self._fetch_user_info(token.token))
        try:
            login = self.get_provider().sociallogin_from_response(
                request, {"id_token": claims, "userinfo": userinfo}
            )
        except (ValueError, TypeError) as exc:
            raise refused(Check.SUBJECT, connection, str(exc)[:300]) from exc
        if self.state is not None:
            # allauth sets this dict as login.state after we return; it travels with the
            # login through later stages (the second-factor stage reads it).
            self.state["gatehouse_idp_mfa"] = admission.idp_reported_mfa(connection, login)
        if testing:
            entry.end_test(request)
            raise ImmediateHttpResponse(
                connection_test_result(request, connection, login=login, details={"claims": claims})
            )
        admission.admit(request, connection, login)
        logins.carry_admission(login)
        # Every call to the IdP is behind us: allauth's login (link, create, roles, session)
        # runs in one transaction from here.
        self.begin_writes()
        return login


class GatehouseCallbackView(OAuth2CallbackView):
    """The callback fetches while no transaction is open: the code exchange, the IdP's key set
    and userinfo. On SQLite a transaction holds the database's write lock; on PostgreSQL it
    would sit idle through the IdP's round trips, up to the fetch timeout each. Once the ID
    token is verified and the login admitted, the adapter opens one transaction that lasts to
    the end of the view: the login's writes commit together, or not at all. A refusal rolls
    them back, and its audit event is written on its own."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            with ExitStack() as writes:
                self.adapter.begin_writes = lambda: writes.enter_context(transaction.atomic())
                try:
                    return super().dispatch(request, *args, **kwargs)
                except ImmediateHttpResponse as answer:
                    # An answer, not a failure (a test's diagnostic, an unavailable connection).
                    return answer.response
        except Refusal as refusal:
            return answer_refusal(request, self.adapter.connection, refusal)

    def _get_state(self, request: HttpRequest, provider: Any) -> Any:
        # allauth unstashes the state here (single use, bound to session and connection); the
        # adapter needs its nonce. Were an allauth upgrade to stop calling this, the nonce would
        # stay None and every login would be refused: it fails closed.
        state, response = super()._get_state(request, provider)
        if state is not None:
            self.adapter.expected_nonce = state.get("nonce")
            self.adapter.state = state
        return state, response


def _unknown(request: HttpRequest) -> HttpResponse:
    return render(request, "sso/unavailable.html", {"connection": None}, status=404)


@login_not_required
def login(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        view = OAuth2LoginView.adapter_view(GatehouseOIDCAdapter(request, provider_id))
        return view(request)
    except SocialApp.DoesNotExist:
        return _unknown(request)


@login_not_required
def callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        view = GatehouseCallbackView.adapter_view(GatehouseOIDCAdapter(request, provider_id))
        return view(request)
    except SocialApp.DoesNotExist:
        return _unknown(request)
