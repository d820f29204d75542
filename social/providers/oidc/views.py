"""Login and callback of the OpenID kinds, with the ID token verified by sso.oidc's processor.

allauth runs the code flow (state bound to this session and provider, PKCE, the code exchange);
the checks allauth's code flow lacks (the ID token's signature, issuer, audience, expiry, nonce)
are the ones enterprise SSO already runs (``sso.oidc.processor``), reused here with the social
provider's issuer. A failed check refuses the sign-in as ``social.login_failed``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt
from allauth.account.internal.decorators import login_not_required
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from allauth.utils import build_absolute_uri
from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from config.refusals import Refusal, refusal_page
from social.models import Kind, SocialProvider
from social.refusals import as_social, login_refused
from sso.checks import Check
from sso.oidc.keys import SigningKeys, discovery_document
from sso.oidc.processor import IDTokenProcessor

TENANT_ID = re.compile(r"^[0-9a-fA-F-]{36}$")


@dataclass
class Expected:
    """What the processor reads from a connection: the issuer and the signing algorithm."""

    issuer: str
    id_token_algorithm: str = "RS256"  # noqa: S105  (an algorithm name)


class SocialIDTokenProcessor(IDTokenProcessor):
    def __init__(self, row: SocialProvider, **kwargs: Any) -> None:
        self.row = row
        super().__init__(Expected(kwargs.pop("issuer")), **kwargs)  # type: ignore[arg-type]

    def _fail(self, check: Check, reason: str) -> Refusal:
        return login_refused(self.row, check.code, reason)


class SocialSigningKeys(SigningKeys):
    def _may_refetch(self) -> bool:
        return bool(
            cache.add(
                f"social:oidc:jwks-refetch:{self.connection.pk}",
                True,
                settings.SSO_JWKS_REFETCH_INTERVAL_SECONDS,
            )
        )


def expected_issuer(row: SocialProvider, discovery: dict, raw_token: Any) -> str:
    """The issuer this sign-in's ID token must name.

    Microsoft's endpoints name the directory in the path (``consumers``, ``common``, a domain)
    but issue tokens under the directory's id, which their discovery document (read from the
    configured endpoint over https) publishes; the multi-tenant ones publish
    ``https://login.microsoftonline.com/{tenantid}/v2.0``, which the token's own ``tid`` fills
    in, and the signature check then binds the two. Every other issuer is the configured one."""
    published = str(discovery.get("issuer") or "")
    if row.kind != Kind.MICROSOFT or not published:
        return row.configured_issuer
    if "{tenantid}" not in published:
        return published
    try:
        tid = jwt.decode(str(raw_token), options={"verify_signature": False}).get("tid")
    except jwt.PyJWTError:
        tid = None
    if not isinstance(tid, str) or not TENANT_ID.match(tid):
        raise login_refused(row, Check.ISSUER.code, "The ID token names no tenant (tid).")
    return published.replace("{tenantid}", tid)


class SocialOIDCAdapter(OpenIDConnectOAuth2Adapter):
    expected_nonce: str | None = None

    @property
    def row(self) -> SocialProvider:
        row = getattr(self.get_provider().app, "gatehouse_social", None)
        if row is None or not row.enabled:
            raise Http404("No such sign-in provider.")
        return row  # type: ignore[no-any-return]

    def get_callback_url(self, request: HttpRequest, app: Any) -> str:
        callback = reverse("social_oidc_callback", kwargs={"provider_id": self.provider_id})
        return str(build_absolute_uri(request, callback, self.redirect_uri_protocol))

    @property
    def openid_config(self) -> dict:
        if not hasattr(self, "_openid_config"):
            row = self.row
            try:
                self._openid_config = discovery_document(row)  # type: ignore[arg-type]
            except Refusal as refusal:
                raise as_social(row, refusal) from None
        return self._openid_config

    def complete_login(
        self, request: HttpRequest, app: SocialApp, token: Any, **kwargs: Any
    ) -> Any:
        row = self.row
        raw = kwargs["response"].get("id_token")
        discovery = self.openid_config
        issuer = expected_issuer(row, discovery, raw) if raw else row.configured_issuer
        if row.kind == Kind.MICROSOFT:
            # The processor compares the discovery document's issuer with the expected one
            # (Microsoft's, filled in from the token), then the signed token's own iss.
            discovery = {**discovery, "issuer": issuer}
        processor = SocialIDTokenProcessor(
            row,
            issuer=issuer,
            discovery=discovery,
            client_id=app.client_id,
            expected_nonce=self.expected_nonce,
            keys=SocialSigningKeys(row, discovery.get("jwks_uri")),  # type: ignore[arg-type]
        )
        try:
            claims = processor.run(raw)
            userinfo = processor.userinfo(claims, lambda: self._fetch_user_info(token.token))
        except Refusal as refusal:
            raise as_social(row, refusal) from None
        try:
            return self.get_provider().sociallogin_from_response(
                request, {"id_token": claims, "userinfo": userinfo}
            )
        except (ValueError, TypeError) as exc:
            raise login_refused(row, Check.SUBJECT.code, str(exc)[:300]) from exc


class SocialCallbackView(OAuth2CallbackView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().dispatch(request, *args, **kwargs)
        except Refusal as refusal:
            return refusal_page(request, as_social(self.adapter.row, refusal))

    def _get_state(self, request: HttpRequest, provider: Any) -> Any:
        # allauth unstashes the state here (single use, bound to session and provider); the
        # adapter needs the nonce kept in it. Should an upgrade stop calling this, the nonce
        # stays None and every sign-in is refused: it fails closed.
        state, response = super()._get_state(request, provider)
        if state is not None:
            self.adapter.expected_nonce = state.get("nonce")
        return state, response


def _unknown(request: HttpRequest) -> HttpResponse:
    return refusal_page(request, Refusal("This sign-in provider is not available.", status=404))


@login_not_required
def login(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        view = OAuth2LoginView.adapter_view(SocialOIDCAdapter(request, provider_id))
        return view(request)
    except (SocialApp.DoesNotExist, Http404):
        return _unknown(request)


@csrf_exempt
@login_not_required
def callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    if request.method == "POST":
        # Apple answers with a form post from its own site, which carries no SameSite=Lax
        # session cookie: hand the answer on as a GET, which (top-level) does. The state in it
        # is still checked against this browser's session there.
        fields = {k: request.POST[k] for k in ("code", "state", "error") if k in request.POST}
        response = HttpResponseRedirect(f"{request.path}?{urlencode(fields)}")
        response.status_code = 303
        return response
    try:
        view = SocialCallbackView.adapter_view(SocialOIDCAdapter(request, provider_id))
        return view(request)
    except (SocialApp.DoesNotExist, Http404):
        return _unknown(request)
