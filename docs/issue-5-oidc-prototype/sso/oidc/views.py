"""The OIDC login and callback views, with an adapter that verifies the ID token fully."""

from __future__ import annotations

from typing import Any

import jwt
from allauth.account.internal.decorators import login_not_required
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount import app_settings
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.core.cache import cache
from django.http import Http404, HttpRequest
from django.shortcuts import render
from django.utils.crypto import constant_time_compare

# Asymmetric only: an HMAC ID token would be keyed with the client secret, which admins paste.
ALLOWED_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
                          "ES384", "ES512", "EdDSA"})
JWKS_CACHE_SECONDS = 300
LEEWAY_SECONDS = 60


class GatehouseOIDCAdapter(OpenIDConnectOAuth2Adapter):
    expected_nonce: str | None = None
    state: dict | None = None

    def complete_login(self, request: HttpRequest, app: SocialApp, token: Any, **kwargs: Any):
        raw = kwargs["response"].get("id_token")
        if not raw:
            raise OAuth2Error("the token response has no ID token")
        claims = self._decode_id_token(app, raw)
        userinfo: dict = {}
        if app.settings.get("fetch_userinfo", True) and self.openid_config.get(
            "userinfo_endpoint"
        ):
            userinfo = self._fetch_user_info(token.token)
            if str(userinfo.get("sub")) != str(claims["sub"]):
                raise OAuth2Error("userinfo is about another subject")
        data = {"id_token": claims, "userinfo": userinfo}
        if (self.state or {}).get("data", {}) and self.state["data"].get("gatehouse_test"):
            # "Test connection": a real login, verified all the way, then a diagnostic page
            # instead of a session. Raised here, before allauth looks up or saves anything.
            raise ImmediateHttpResponse(
                render(request, "sso/test_result.html", {"ok": True, "claims": data}, status=200)
            )
        return self.get_provider().sociallogin_from_response(request, data)

    def _decode_id_token(self, app: SocialApp, id_token: str) -> dict:
        issuer = app.settings.get("issuer")
        if not issuer or self.openid_config.get("issuer") != issuer:
            raise OAuth2Error("the discovery document names another issuer")
        alg = app.settings.get("id_token_signing_alg", "RS256")
        if alg not in ALLOWED_ALGS:
            raise OAuth2Error(f"signing algorithm {alg} is not allowed")
        try:
            key = self._signing_key(jwt.get_unverified_header(id_token), alg)
            claims = jwt.decode(
                id_token,
                key=key,
                algorithms=[alg],  # from the connection, never from the token's header
                audience=app.client_id,
                issuer=issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "sub", "aud", "exp", "iat", "nonce"]},
            )
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as e:
            raise OAuth2Error(f"invalid ID token: {e}") from e
        sub = claims["sub"]
        # allauth raises ValueError / ImproperlyConfigured (uncaught: a 500) for these.
        if not isinstance(sub, str) or not sub or len(sub) > app_settings.UID_MAX_LENGTH:
            raise OAuth2Error("invalid ID token: sub")
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != app.client_id:
            raise OAuth2Error("invalid ID token: azp")
        if not self.expected_nonce or not constant_time_compare(
            str(claims["nonce"]), self.expected_nonce
        ):
            raise OAuth2Error("invalid ID token: nonce")
        return claims

    def _jwks(self, *, fresh: bool = False) -> dict:
        url = self.openid_config["jwks_uri"]
        key = f"sso:jwks:{url}"
        keys = None if fresh else cache.get(key)
        if keys is None:
            with get_adapter().get_requests_session() as sess:
                resp = sess.get(url)
                resp.raise_for_status()
                keys = resp.json()
            cache.set(key, keys, JWKS_CACHE_SECONDS)
        return keys

    def _signing_key(self, header: dict, alg: str) -> Any:
        kid = header.get("kid")
        for fresh in (False, True):  # an unknown kid refetches once (key rotation)
            for jwk in self._jwks(fresh=fresh).get("keys", []):
                if kid is not None and jwk.get("kid") != kid:
                    continue
                if jwk.get("use", "sig") != "sig" or jwk.get("alg", alg) != alg:
                    continue
                # PyJWK refuses a key whose type does not fit the configured algorithm.
                return jwt.PyJWK(jwk, algorithm=alg).key
        raise OAuth2Error("no signing key for this ID token")


class GatehouseCallbackView(OAuth2CallbackView):
    def _get_state(self, request: HttpRequest, provider: Any):
        # allauth unstashes the state (single use, bound to session and provider) here; the
        # adapter needs its nonce. If an allauth upgrade stops calling this, expected_nonce
        # stays None and every login is refused (fails closed).
        state, resp = super()._get_state(request, provider)
        if state is not None:
            self.adapter.expected_nonce = state.get("nonce")
            self.adapter.state = state
        return state, resp


@login_not_required
def login(request: HttpRequest, provider_id: str):
    try:
        view = OAuth2LoginView.adapter_view(GatehouseOIDCAdapter(request, provider_id))
        return view(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None


@login_not_required
def callback(request: HttpRequest, provider_id: str):
    try:
        view = GatehouseCallbackView.adapter_view(GatehouseOIDCAdapter(request, provider_id))
        return view(request)
    except SocialApp.DoesNotExist:
        raise Http404 from None
