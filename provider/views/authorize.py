"""/o/authorize/: sign the person in through Gatehouse's own pages, ask for consent where it
is needed, and send the client a code (docs/oauth-provider.md, section 10).

The checks run in this order, each with the OAuth error the client gets:
1. client, exact redirect URI, response type, scopes and the API (oauthlib and the validator;
   a bad client or redirect is shown here, never redirected); one ``resource`` at most
   (``invalid_target``); prompt=none's silent checks (``login_required``,
   ``consent_required``, ``interaction_required``);
2. PKCE with S256 (``invalid_request``: DOT would only refuse ``plain`` after consent);
3. ``organization=``: an active membership (``access_denied``);
4. freshness: ``prompt=login``, ``max_age`` and ``acr_values`` asking for a second factor send
   the person through the step-up page, and only an authentication made after the request
   counts for ``prompt=login``;
5. consent: first-party apps skip it; others ask unless an Authorization already covers the
   request, and always with ``prompt=consent``. ``approval_prompt`` is ignored.

The consent form posts back to the same address with only the decision: the request is
validated again from its query string, so nothing a browser could alter travels in hidden
fields. Every redirect to the client, errors included, carries ``iss`` (RFC 9207).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.oauth2_backends import _add_iss_to_redirect  # noqa: PLC2701  (DOT's own iss rule)
from oauth2_provider.views import AuthorizationView
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.common import add_params_to_uri

from accounts.mfa.stepup import stepup_url
from config.provider_settings import OIDC_SCOPES
from provider import signin
from provider.claims import active_organization
from provider.models import Application
from provider.services.authorizations import covers, grant_authorization
from provider.services.sessions import provider_sid
from provider.validator import can_step_up_to_mfa, parse_max_age, wants_mfa

REAUTH_SESSION_KEY = "gatehouse_provider_reauth"
# How long a prompt=login request waits for its re-authentication before starting over.
REAUTH_WINDOW_SECONDS = 600
LOGIN_HINT_MAX = 254


class AuthorizeView(AuthorizationView):
    template_name = "provider/consent.html"

    # --- Signed out ------------------------------------------------------------------------

    def handle_no_permission(self) -> HttpResponse:
        """Validate first (a bad client or redirect is an error page, prompt=none is
        ``login_required`` to the client), then Gatehouse's login, back here afterwards."""
        request = self.request
        with signin.serving(request):
            try:
                _scopes, credentials = self.validate_authorization_request(request)
            except OAuthToolkitError as error:
                return self.error_response(error, application=self._named_application())
        if "login" in str(request.GET.get("prompt", "")).split():
            # The login about to happen is the fresh authentication prompt=login asks for:
            # marking the request now keeps the person from being asked twice.
            self._reauth_marker(request)
        query = {"next": request.get_full_path()}
        hint = credentials.get("login_hint")
        if isinstance(hint, str) and hint and len(hint) <= LOGIN_HINT_MAX:
            query["login"] = hint
        return HttpResponseRedirect(f"{reverse('account_login')}?{urlencode(query)}")

    # --- Signed in ---------------------------------------------------------------------------

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._authorize(request, decision=None)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        decision = request.POST.get("decision")
        if decision not in ("allow", "deny"):
            return self._authorize(request, decision=None)
        return self._authorize(request, decision=decision == "allow")

    def _authorize(self, request: HttpRequest, *, decision: bool | None) -> HttpResponse:
        user = request.user
        named_org = request.GET.get("organization", "")
        organization = active_organization(user, named_org) if named_org else None
        request.provider_organization = organization  # type: ignore[attr-defined]
        with signin.serving(request):
            try:
                scopes, credentials = self.validate_authorization_request(request)
            except OAuthToolkitError as error:
                return self.error_response(error, application=self._named_application())
            application = Application.objects.get(client_id=credentials["client_id"])

            def refuse(error: str, description: str) -> HttpResponse:
                return self._refuse(application, credentials, error, description)

            if len(request.GET.getlist("resource")) > 1:
                return refuse("invalid_target", "Ask for one API at a time.")
            if credentials.get("code_challenge_method") != "S256":
                return refuse(
                    "invalid_request", 'PKCE with code_challenge_method "S256" is required.'
                )
            if named_org and organization is None:
                return refuse("access_denied", "You are not a member of that organization.")

            prompt = set(str(request.GET.get("prompt", "")).split())
            sign_in = signin.sign_in_of(request, user)
            if not self._fresh_enough(request, sign_in, prompt):
                return HttpResponseRedirect(stepup_url(request.get_full_path()))

            oauth_request = credentials.get("request")
            needs_consent = not application.first_party and (
                "consent" in prompt
                or not covers(
                    user=user, application=application, scopes=scopes, organization=organization
                )
            )
            if needs_consent and decision is None:
                return self._consent_page(request, application, scopes, oauth_request, organization)
            if decision is False:
                return refuse("access_denied", "The person did not allow access.")
            if needs_consent:  # and allowed: remember it, so the next sign-in asks nothing
                grant_authorization(
                    user=user, application=application, scopes=scopes, organization=organization
                )

            credentials["auth_context"] = {
                "sid": provider_sid(request, user),
                "auth_time": sign_in.auth_time or getattr(user, "last_login", None),
                "amr": sign_in.amr,
                "acr": sign_in.acr,
                "organization_id": organization.pk if organization is not None else None,
            }
            if isinstance(credentials.get("ui_locales"), list):
                credentials["ui_locales"] = " ".join(credentials["ui_locales"])
            try:
                uri, _headers, _body, _status = self.create_authorization_response(
                    request=request, scopes=" ".join(scopes), credentials=credentials, allow=True
                )
            except OAuthToolkitError as error:
                return self.error_response(error, application)
        request.session.pop(REAUTH_SESSION_KEY, None)
        return self.redirect(uri, application)

    def _fresh_enough(self, request: HttpRequest, sign_in: signin.SignIn, prompt: set[str]) -> bool:
        """Whether the session's authentication satisfies prompt=login, max_age and an
        acr_values asking for a second factor; if not, the person steps up first."""
        since: float | None = None
        if "login" in prompt:
            since = self._reauth_marker(request)
        max_age = parse_max_age(request.GET.get("max_age"))
        if max_age is not None:
            since = max(since or 0, time.time() - max_age)
        if since is not None and not sign_in.authenticated_since(since):
            return False
        return not (
            wants_mfa(request.GET.get("acr_values", ""))
            and not sign_in.has_mfa
            and can_step_up_to_mfa(request.user)
        )

    def _reauth_marker(self, request: HttpRequest) -> float:
        """When this prompt=login request first arrived: only an authentication at or after
        that time satisfies it. Kept in the session per request address, until a code is
        issued or the window passes."""
        markers = dict(request.session.get(REAUTH_SESSION_KEY) or {})
        address = request.get_full_path()
        now = time.time()
        marked = markers.get(address)
        if not isinstance(marked, float) or now - marked > REAUTH_WINDOW_SECONDS:
            markers = {a: t for a, t in markers.items() if now - t <= REAUTH_WINDOW_SECONDS}
            markers[address] = marked = now
            request.session[REAUTH_SESSION_KEY] = markers
        return marked

    # --- Pages and redirects -----------------------------------------------------------------

    def _consent_page(
        self,
        request: HttpRequest,
        application: Application,
        scopes: list[str],
        oauth_request: Any,
        organization: Any,
    ) -> HttpResponse:
        api = getattr(oauth_request, "api", None)
        api_scopes = dict(api.scopes) if api is not None else {}
        permissions = [
            OIDC_SCOPES.get(scope) or api_scopes.get(scope) or scope
            for scope in scopes
            if scope != "openid"
        ]
        return render(
            request,
            self.template_name,
            {
                "application": application,
                "permissions": permissions,
                "api": api,
                "organization": organization,
                "action": request.get_full_path(),
            },
        )

    def _refuse(
        self, application: Application, credentials: dict[str, Any], error: str, description: str
    ) -> HttpResponse:
        params = [("error", error), ("error_description", description)]
        if credentials.get("state"):
            params.append(("state", credentials["state"]))
        return self.redirect(add_params_to_uri(credentials["redirect_uri"], params), application)

    def _named_application(self) -> Application | None:
        client_id = self.request.GET.get("client_id")
        if not client_id:
            return None
        return Application.objects.filter(client_id=client_id).first()

    def redirect(self, redirect_to: str, application: Any) -> HttpResponse:
        """Every redirect to the client carries ``iss`` (RFC 9207): openid-client refuses a
        response without it, errors included, once the metadata advertises it."""
        issuer = str(settings.GATEHOUSE_PUBLIC_URL)
        return super().redirect(_add_iss_to_redirect(redirect_to, issuer), application)  # type: ignore[no-any-return]

    def error_response(self, error: Any, application: Any, **kwargs: Any) -> HttpResponse:
        redirect, response = OAuthLibMixin.error_response(self, error, **kwargs)
        if redirect:
            return self.redirect(response["url"], application)
        oauth_error = response["error"]
        return render(
            self.request,
            self.template_name,
            {"error": oauth_error.error, "description": oauth_error.description},
            status=oauth_error.status_code,
        )
