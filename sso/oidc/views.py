"""OIDC login and callback, with an adapter that verifies the ID token fully.

allauth does the code flow (state bound to the session and connection, PKCE S256, the code
exchange, userinfo). Gatehouse checks what allauth's code flow does not: the ID token's
signature with the algorithm the connection names (never the one in the token's header), its
issuer against the one stored when the connection was set up, audience, expiry, issue time and
the nonce sent with this login. Each failure names its check (audit, "Test connection").
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from typing import Any

import jwt
from allauth.account.internal.decorators import login_not_required
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount import app_settings
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.crypto import constant_time_compare
from jwt.exceptions import InvalidSubjectError

from sso import entry, logins
from sso.fetch import FetchError, check_url, fetch
from sso.models import ID_TOKEN_ALGORITHMS

DISCOVERY_CACHE_SECONDS = 300
JWKS_CACHE_SECONDS = 300
LEEWAY_SECONDS = 60
ENDPOINTS = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")


class CheckFailed(OAuth2Error):
    """A failed check on what the IdP sent, with the check's name."""

    def __init__(self, check: str, reason: str) -> None:
        super().__init__(reason)
        self.check = check


def discovery_document(discovery_url: str, *, fresh: bool = False) -> dict:
    """The IdP's discovery document, fetched with Gatehouse's URL rules and cached briefly."""
    key = f"sso:oidc:discovery:{discovery_url}"
    doc = None if fresh else cache.get(key)
    if doc is None:
        try:
            doc = json.loads(fetch(discovery_url, accept="application/json"))
        except (FetchError, ValueError) as exc:
            raise CheckFailed(
                "discovery", f"The discovery document could not be read: {exc}"
            ) from exc
        if not isinstance(doc, dict):
            raise CheckFailed("discovery", "The discovery document is not a JSON object.")
        for name in ENDPOINTS:
            if name in doc:
                try:
                    check_url(str(doc[name]))
                except FetchError as exc:
                    raise CheckFailed("discovery", f"{name}: {exc}") from exc
        cache.set(key, doc, DISCOVERY_CACHE_SECONDS)
    return doc


class GatehouseOIDCAdapter(OpenIDConnectOAuth2Adapter):
    expected_nonce: str | None = None
    state: dict | None = None

    @staticmethod
    def begin_writes() -> None:
        """Open the transaction the login's writes run in (GatehouseCallbackView sets it)."""

    @property
    def connection(self) -> Any:
        connection = getattr(self.get_provider().app, "gatehouse_connection", None)
        if connection is None:
            # Gatehouse's OIDC provider replaces allauth's for every app: one configured in
            # settings or in the SocialApp table would get none of the checks here. Refused.
            raise CheckFailed("configuration", "OpenID Connect sign-in needs an SSO connection.")
        return connection

    @property
    def openid_config(self) -> dict:
        if not hasattr(self, "_openid_config"):
            self._openid_config = discovery_document(self.connection.discovery_url)
        return self._openid_config

    def complete_login(
        self, request: HttpRequest, app: SocialApp, token: Any, **kwargs: Any
    ) -> Any:
        connection = self.connection
        testing = entry.is_test(request, connection)
        if not (connection.is_active or testing):
            raise entry.unavailable(request, connection)
        raw = kwargs["response"].get("id_token")
        if not raw:
            raise CheckFailed("id_token_missing", "The token response has no ID token.")
        claims = self._decode_id_token(app, raw)
        userinfo: dict = {}
        if self.openid_config.get("userinfo_endpoint"):
            try:
                userinfo = self._fetch_user_info(token.token)
            except Exception as exc:  # requests' errors, or a body that is not JSON
                raise CheckFailed(
                    "userinfo", f"userinfo could not be read: {type(exc).__name__}"
                ) from exc
            if not isinstance(userinfo, dict) or str(userinfo.get("sub")) != str(claims["sub"]):
                raise CheckFailed("userinfo_subject", "userinfo is about another subject.")
        data = {"id_token": claims, "userinfo": userinfo}
        try:
            login = self.get_provider().sociallogin_from_response(request, data)
        except (ValueError, TypeError) as exc:
            raise CheckFailed("subject", str(exc)[:300]) from exc
        if self.state is not None:
            # allauth sets this dict as login.state after we return; it travels with the
            # login through later stages (the second-factor stage reads it).
            self.state["gatehouse_idp_mfa"] = logins.idp_reported_mfa(connection, login)
        if testing:
            entry.end_test(request)
            raise ImmediateHttpResponse(
                logins.test_result(request, connection, login=login, details={"claims": claims})
            )
        try:
            logins.admit(request, connection, login)
        except logins.LoginRefused as refusal:
            raise ImmediateHttpResponse(
                logins.refuse_login(request, connection, refusal.check, refusal.message)
            ) from None
        # Every call to the IdP is behind us: allauth's login (link, create, roles, session)
        # runs in one transaction from here.
        self.begin_writes()
        return login

    def _decode_id_token(self, app: SocialApp, id_token: str) -> dict:
        connection = self.connection
        issuer = connection.issuer
        if not issuer or self.openid_config.get("issuer") != issuer:
            raise CheckFailed("issuer", "The discovery document names another issuer.")
        alg = connection.id_token_algorithm
        if alg not in ID_TOKEN_ALGORITHMS:
            raise CheckFailed("algorithm", f"Signing algorithm {alg} is not allowed.")
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise CheckFailed("id_token_format", f"The ID token is not a JWT: {exc}") from exc
        if header.get("alg") != alg:
            raise CheckFailed(
                "algorithm", f"The ID token is signed with {header.get('alg')!r}, not {alg}."
            )
        key = self._signing_key(header, alg)
        try:
            claims = jwt.decode(
                id_token,
                key=key,
                algorithms=[alg],  # from the connection, never from the token's header
                audience=app.client_id,
                issuer=issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "sub", "aud", "exp", "iat", "nonce"]},
            )
        except jwt.InvalidSignatureError as exc:
            raise CheckFailed("signature", "The ID token's signature does not verify.") from exc
        except jwt.ExpiredSignatureError as exc:
            raise CheckFailed("expired", "The ID token has expired.") from exc
        except jwt.InvalidAudienceError as exc:
            raise CheckFailed("audience", "The ID token is meant for another client.") from exc
        except jwt.InvalidIssuerError as exc:
            raise CheckFailed("issuer", "The ID token comes from another issuer.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise CheckFailed("not_yet_valid", "The ID token is not valid yet.") from exc
        except InvalidSubjectError as exc:
            raise CheckFailed("subject", "The ID token's subject is not a string.") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise CheckFailed("claims", f"The ID token lacks the {exc.claim!r} claim.") from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise CheckFailed("id_token", f"The ID token is not valid: {exc}") from exc
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub or len(sub) > app_settings.UID_MAX_LENGTH:
            raise CheckFailed("subject", "The ID token's subject is empty or too long.")
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != app.client_id:
            raise CheckFailed("audience", "The ID token has several audiences and another azp.")
        if not self.expected_nonce or not constant_time_compare(
            str(claims["nonce"]), self.expected_nonce
        ):
            raise CheckFailed("nonce", "The ID token's nonce does not match this sign-in.")
        return claims

    def _jwks(self, *, fresh: bool = False) -> tuple[dict, bool]:
        """The IdP's key set, and whether it was fetched just now (not read from the cache)."""
        url = self.openid_config.get("jwks_uri")
        if not url:
            raise CheckFailed("jwks", "The discovery document has no jwks_uri.")
        key = jwks_cache_key(url)
        keys = None if fresh else cache.get(key)
        if keys is not None:
            return keys, False
        try:
            keys = json.loads(fetch(url, accept="application/json"))
        except (FetchError, ValueError) as exc:
            raise CheckFailed("jwks", f"The IdP's keys could not be read: {exc}") from exc
        if not isinstance(keys, dict):
            raise CheckFailed("jwks", "The IdP's key set is not a JSON object.")
        cache.set(key, keys, JWKS_CACHE_SECONDS)
        return keys, True

    def _may_refetch_jwks(self) -> bool:
        """Whether this sign-in may read the key set again for an unknown key: the first to ask
        in an interval, per connection, across every process (an atomic add in the shared
        cache). Only the IdP can put an ID token in front of this check (it comes from the
        token endpoint), but one that names unknown keys must not make each sign-in a fetch."""
        return cache.add(
            f"sso:oidc:jwks-refetch:{self.connection.pk}",
            True,
            settings.SSO_JWKS_REFETCH_INTERVAL_SECONDS,
        )

    def _signing_key(self, header: dict, alg: str) -> Any:
        kid = header.get("kid")
        keys, fetched = self._jwks()
        key = _pick_key(keys, kid, alg)
        if key is None and not fetched:
            # An unknown kid: the IdP may have rotated its keys since they were cached.
            if not self._may_refetch_jwks():
                raise CheckFailed(
                    "signing_key",
                    f"No key of the IdP fits this ID token (key id {str(kid)[:100]!r}), and its "
                    f"key set was read again less than "
                    f"{settings.SSO_JWKS_REFETCH_INTERVAL_SECONDS} seconds ago.",
                )
            key = _pick_key(self._jwks(fresh=True)[0], kid, alg)
        if key is None:
            raise CheckFailed("signing_key", "No key of the IdP fits this ID token.")
        return key


def jwks_cache_key(jwks_uri: str) -> str:
    return f"sso:oidc:jwks:{jwks_uri}"


def _pick_key(keys: dict, kid: Any, alg: str) -> Any:
    """The verification key in ``keys`` for this kid and the connection's algorithm, or None."""
    candidates = keys.get("keys")
    for jwk in candidates if isinstance(candidates, list) else []:
        if not isinstance(jwk, dict) or (kid is not None and jwk.get("kid") != kid):
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", alg) != alg:
            continue
        try:
            # PyJWK refuses a key whose type does not fit the configured algorithm.
            return jwt.PyJWK(jwk, algorithm=alg).key
        except jwt.PyJWTError:
            continue
    return None


class GatehouseCallbackView(OAuth2CallbackView):
    """The callback runs outside the request's transaction (``callback`` is exempt from
    ATOMIC_REQUESTS): the code exchange, the IdP's key set and userinfo are fetched while no
    transaction is open. On SQLite a transaction holds the database's write lock; on
    PostgreSQL it would sit idle through the IdP's round trips, up to the fetch timeout each.
    Once the ID token is verified and the login admitted, the adapter opens one transaction
    that lasts to the end of the view: the login's writes commit together, or not at all, as
    under ATOMIC_REQUESTS. A refusal before that writes one audit row, on its own."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with ExitStack() as writes:
            self.adapter.begin_writes = lambda: writes.enter_context(transaction.atomic())
            try:
                return super().dispatch(request, *args, **kwargs)
            except ImmediateHttpResponse as answer:
                # An answer, not a failure: its audit row commits, as under ATOMIC_REQUESTS
                # (allauth's adapter_view would catch it only after the transaction ended).
                return answer.response

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
@transaction.non_atomic_requests  # see GatehouseCallbackView
def callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        view = GatehouseCallbackView.adapter_view(GatehouseOIDCAdapter(request, provider_id))
        return view(request)
    except SocialApp.DoesNotExist:
        return _unknown(request)
