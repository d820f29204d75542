"""/o/authorize/: sign the person in through Gatehouse's own pages, ask for consent where it
is needed, and send the client a code (docs/oauth-provider.md, section 10).

The checks run in this order, each with the OAuth error the client gets:
1. client, exact redirect URI, response type, scopes and the API (oauthlib and the validator;
   a bad client or redirect is shown here, never redirected); one ``resource`` at most
   (``invalid_target``); prompt=none's silent checks (``login_required``,
   ``consent_required``, ``interaction_required``);
2. PKCE with S256 (``invalid_request``: DOT would only refuse ``plain`` after consent);
3. ``organization=``: an active membership (``access_denied``);
4. the account and the organization: ``prompt=select_account`` shows who is signed in, with
   "Use another account"; an app asking for the ``organization`` scope without naming one
   gets the person's only organization, or their pick of several (``prompt=none`` cannot
   pick: ``account_selection_required``). A pick comes back as ``organization=`` in the
   address, checked like one the app sent;
5. an SSO-only organization's IdP, when it has not signed the person in this session
   (``provider.org_signin``; ``login_required`` for ``prompt=none``);
6. freshness: ``prompt=login``, ``max_age`` and ``acr_values`` asking for a second factor send
   the person through the step-up page (or, with no second factor yet, to set one up), and
   only an authentication made after the request counts for ``prompt=login``;
7. consent: first-party apps skip it; others ask unless an Authorization already covers the
   request, and always with ``prompt=consent``. ``approval_prompt`` is ignored.

The consent and chooser forms post back to the same address with only the decision or the
choice: the request is validated again from its query string, so nothing a browser could
alter travels in hidden fields. Every redirect to the client, errors included, carries
``iss`` (RFC 9207).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from allauth.account.adapter import get_adapter
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
from accounts.profiling import prompts as profile_prompts
from config.provider_settings import OIDC_SCOPES
from provider import org_signin, signin
from provider.claims import acting_staff, active_organization
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
        prompt = set(str(request.GET.get("prompt", "")).split())
        # Signing in is choosing the account: prompt=select_account is answered by it.
        next_url = (
            org_signin.authorize_again(request, drop_prompt="select_account")
            if "select_account" in prompt
            else request.get_full_path()
        )
        if "login" in prompt:
            # The login about to happen is the fresh authentication prompt=login asks for:
            # marking the request now keeps the person from being asked twice.
            self._reauth_marker(request)
        named = org_signin.organization_named(request.GET.get("organization", ""))
        connections = org_signin.sso_connections(named) if named is not None else []
        if connections:
            return org_signin.through_idp(request, connections, next_url)
        query = {"next": next_url}
        hint = credentials.get("login_hint")
        if isinstance(hint, str) and hint and len(hint) <= LOGIN_HINT_MAX:
            query["login"] = hint
        return HttpResponseRedirect(f"{reverse('account_login')}?{urlencode(query)}")

    # --- Signed in ---------------------------------------------------------------------------

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._authorize(request, decision=None)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "account" in request.POST or "organization" in request.POST:
            return self._choose(request)
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

            refused = _refusal(request, credentials, named_org, organization)
            if refused is not None:
                return refuse(*refused)
            prompt = set(str(request.GET.get("prompt", "")).split())
            if "login" in prompt:
                # Marked before any detour: a login at the organization's IdP counts too.
                self._reauth_marker(request)
            sign_in = signin.sign_in_of(request, user)
            detour = self._detour(
                request, application, scopes, prompt, organization, sign_in, refuse
            )
            if detour is not None:
                return detour

            oauth_request = credentials.get("request")
            needs_consent = not application.first_party and (
                "consent" in prompt
                or not covers(
                    user=user, application=application, scopes=scopes, organization=organization
                )
            )
            if needs_consent and getattr(request, "impersonation", None) is not None:
                # Support signed in as the person may use the apps the person already
                # allowed, but never grant one access on their behalf.
                return refuse("access_denied", "Support cannot allow an app for the person.")
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
                "act_sub": acting_staff(request),
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

    def _detour(
        self,
        request: HttpRequest,
        application: Application,
        scopes: list[str],
        prompt: set[str],
        organization: Any,
        sign_in: signin.SignIn,
        refuse: Callable[[str, str], HttpResponse],
    ) -> HttpResponse | None:
        """Where the person goes before consent, in this order: the chooser, the
        organization's IdP, the step-up (or setting up a second factor), the profile fields
        the app's scopes (or the sign-in) made due. None: nowhere."""
        named = request.GET.get("organization", "")
        choosing = self._choice_needed(request, application, scopes, prompt, named, refuse)
        if choosing is not None:
            return choosing
        through_idp = self._organization_idp(request, organization, prompt, refuse)
        if through_idp is not None:
            return through_idp
        step = self._step_needed(request, sign_in, prompt)
        if step is not None:
            return HttpResponseRedirect(step)
        return _profile_questions(request, scopes, prompt, refuse)

    def _step_needed(
        self, request: HttpRequest, sign_in: signin.SignIn, prompt: set[str]
    ) -> str | None:
        """Where the person goes first when the session's authentication does not satisfy
        prompt=login, max_age or an acr_values asking for a second factor: the step-up page,
        or, for a second factor they do not have yet, the page to set one up."""
        here = request.get_full_path()
        since: float | None = None
        if "login" in prompt:
            since = self._reauth_marker(request)
        max_age = parse_max_age(request.GET.get("max_age"))
        if max_age is not None:
            since = max(since or 0, time.time() - max_age)
        if since is not None and not sign_in.authenticated_since(since):
            return stepup_url(here)
        if not wants_mfa(request.GET.get("acr_values", "")) or sign_in.has_mfa:
            return None
        if can_step_up_to_mfa(request.user):
            return stepup_url(here)
        return f"{reverse('mfa:security')}?{urlencode({'next': here})}"

    def _reauth_marker(self, request: HttpRequest) -> float:
        """When this prompt=login request first arrived: only an authentication at or after
        that time satisfies it. Kept in the session per request (``_reauth_key``), until a
        code is issued or the window passes."""
        markers = dict(request.session.get(REAUTH_SESSION_KEY) or {})
        address = _reauth_key(request)
        now = time.time()
        marked = markers.get(address)
        if not isinstance(marked, float) or now - marked > REAUTH_WINDOW_SECONDS:
            markers = {a: t for a, t in markers.items() if now - t <= REAUTH_WINDOW_SECONDS}
            markers[address] = marked = now
            request.session[REAUTH_SESSION_KEY] = markers
        return marked

    # --- The account and the organization ----------------------------------------------------

    def _choice_needed(
        self,
        request: HttpRequest,
        application: Application,
        scopes: list[str],
        prompt: set[str],
        named: str,
        refuse: Callable[[str, str], HttpResponse],
    ) -> HttpResponse | None:
        """The chooser page (prompt=select_account, or several organizations to pick from
        for an app that asked for the ``organization`` scope), the request again naming the
        person's only organization, or None when there is nothing to choose."""
        wants_org = org_signin.ORGANIZATION_SCOPE in scopes and not named
        if not wants_org and "select_account" not in prompt:
            return None
        memberships = org_signin.memberships_to_choose(request.user) if wants_org else []
        if "select_account" not in prompt:
            if not memberships:
                return None
            if len(memberships) == 1:
                only = memberships[0].organization.slug
                return HttpResponseRedirect(org_signin.authorize_again(request, organization=only))
        if "none" in prompt:
            return refuse("account_selection_required", "The person must choose.")
        return self._chooser_page(request, application, memberships)

    def _organization_idp(
        self,
        request: HttpRequest,
        organization: Any,
        prompt: set[str],
        refuse: Callable[[str, str], HttpResponse],
    ) -> HttpResponse | None:
        """To an SSO-only organization's IdP when it has not signed the person in yet."""
        if organization is None:
            return None
        connections = org_signin.sso_still_needed(request, request.user, organization)
        if not connections:
            return None
        if "none" in prompt:
            return refuse("login_required", "The organization's identity provider must sign in.")
        return org_signin.through_idp(request, connections, request.get_full_path())

    def _choose(self, request: HttpRequest) -> HttpResponse:
        """The chooser's answer: another account (sign out, then in), an organization (the
        request again, naming it), or this account as it is."""
        with signin.serving(request):
            try:
                _scopes, credentials = self.validate_authorization_request(request)
            except OAuthToolkitError as error:
                return self.error_response(error, application=self._named_application())
        answered = org_signin.authorize_again(request, drop_prompt="select_account")
        if request.POST.get("account") == "other":
            get_adapter(request).logout(request)
            login = reverse("account_login")
            return HttpResponseRedirect(f"{login}?{urlencode({'next': answered})}")
        if "organization" not in request.POST:
            return HttpResponseRedirect(answered)
        organization = active_organization(request.user, str(request.POST["organization"]))
        if organization is None:
            application = Application.objects.get(client_id=credentials["client_id"])
            memberships = org_signin.memberships_to_choose(request.user)
            return self._chooser_page(request, application, memberships, status=400)
        return HttpResponseRedirect(
            org_signin.authorize_again(
                request, organization=organization.slug, drop_prompt="select_account"
            )
        )

    def _chooser_page(
        self,
        request: HttpRequest,
        application: Application,
        memberships: list[Any],
        status: int = 200,
    ) -> HttpResponse:
        return render(
            request,
            "provider/choose.html",
            {
                "application": application,
                "memberships": memberships,
                "action": request.get_full_path(),
                "not_a_member": status == 400,
            },
            status=status,
        )

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


def _refusal(
    request: HttpRequest, credentials: dict[str, Any], named_org: str, organization: Any
) -> tuple[str, str] | None:
    """The OAuth error of a request oauthlib let through but Gatehouse does not take."""
    if len(request.GET.getlist("resource")) > 1:
        return "invalid_target", "Ask for one API at a time."
    if credentials.get("code_challenge_method") != "S256":
        return "invalid_request", 'PKCE with code_challenge_method "S256" is required.'
    if named_org and organization is None:
        return "access_denied", "You are not a member of that organization."
    return None


def _profile_questions(
    request: HttpRequest,
    scopes: list[str],
    prompt: set[str],
    refuse: Callable[[str, str], HttpResponse],
) -> HttpResponse | None:
    """The questions page, when profile fields are due for these scopes or this session's
    sign-in (accounts/profiling/). prompt=none cannot ask: a required field due is
    ``interaction_required``; optional ones wait for the next time."""
    due = profile_prompts.due_now(request, scopes)
    if not due:
        return None
    if "none" in prompt:
        if any(field.required for field in due):
            return refuse("interaction_required", "The person must give profile details.")
        return None
    return HttpResponseRedirect(profile_prompts.questions_url(request.get_full_path(), scopes))


def _reauth_key(request: HttpRequest) -> str:
    """The request as prompt=login's marker knows it: without what the chooser adds or answers
    (``organization=``, ``prompt=select_account``), so that a detour through it is still the
    same request and the login made for it still counts."""
    kept = []
    for name, value in parse_qsl(request.META.get("QUERY_STRING", ""), keep_blank_values=True):
        if name == "organization":
            continue
        if name == "prompt":
            value = " ".join(sorted(set(value.split()) - {"select_account"}))
        kept.append((name, value))
    return urlencode(sorted(kept))
