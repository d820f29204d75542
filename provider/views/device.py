"""The device flow's two endpoints: the device asks for codes (POST /o/device-authorization/),
and the person enters the user code and approves the request on /device."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauthlib.common import Request as OauthlibRequest
from oauthlib.oauth2.rfc6749 import errors

from accounts.ratelimits import Limit, spend
from audit import context
from config.refusals import Refusal, refusal_page
from provider import cimd, device
from provider.models import Application, ApplicationKind
from provider.models.applications import GRANTS_BY_KIND


def _error(error: str, description: str, status: int = 400) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    return response


@method_decorator(csrf_exempt, name="dispatch")
class DeviceAuthorizationView(View):
    """RFC 8628 3.1-3.2: a device that cannot show a browser asks for a device code (which it
    polls the token endpoint with) and a user code (which the person types on /device)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        content_type = (request.content_type or "").split(";", 1)[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return _error("invalid_request", "Send application/x-www-form-urlencoded.")
        core = get_oauthlib_core()
        uri, method, body, headers = core._extract_params(request)
        oauth_request = OauthlibRequest(uri, method, body, headers)
        validator = core.server.request_validator
        client_id = oauth_request.client_id
        if "Authorization" in headers or oauth_request.client_secret:
            authenticated = validator.authenticate_client(oauth_request)
        else:
            authenticated = bool(client_id) and validator.authenticate_client_id(
                client_id, oauth_request
            )
        client: Application | None = oauth_request.client if authenticated else None
        if client is None:
            return _error("invalid_client", "Client authentication failed.", status=401)
        if device.DEVICE_CODE_GRANT not in GRANTS_BY_KIND.get(
            client.kind, ()
        ) or cimd.is_self_registered(client):
            # Self-registered clients choose their own names: with a user code, such a
            # client could ask a person to approve "Acme" on /device without owning any page.
            return _error("unauthorized_client", "This client may not use the device flow.")
        for key in (
            f"device-auth:client:{client.client_id}",
            f"device-auth:ip:{context.current().ip}",
        ):
            if not spend(key, Limit(30, 60)).allowed:
                return _error("slow_down", "Too many device requests; wait a minute.", status=429)
        scopes = (oauth_request.scope or "").split() or ["openid"]
        try:
            if not validator.validate_scopes(client_id, scopes, client, oauth_request):
                return _error("invalid_scope", "The client may not ask for these scopes.")
        except errors.OAuth2Error as error:
            return _error(error.error, error.description or "", status=error.status_code)
        grant, device_code, user_code = device.create_device_request(
            client=client, scopes=scopes, api=getattr(oauth_request, "api", None)
        )
        verification_uri = settings.GATEHOUSE_PUBLIC_URL + "/device"
        response = JsonResponse(
            {
                "device_code": device_code,
                "user_code": device.shown(user_code),
                "verification_uri": verification_uri,
                "verification_uri_complete": (
                    f"{verification_uri}?user_code={device.shown(user_code)}"
                ),
                "expires_in": device.DEVICE_CODE_SECONDS,
                "interval": grant.interval,
            }
        )
        response["Cache-Control"] = "no-store"
        return response


class DevicePageView(LoginRequiredMixin, View):
    """/device: the person types the code the device shows, sees which app asks for what,
    and allows or denies it. Signed-in only (the login page brings them back here)."""

    template_name = "provider/device.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._page(request, typed=request.GET.get("user_code", ""))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        typed = request.POST.get("user_code", "")
        decision = request.POST.get("decision")
        try:
            device.refuse_guessing(user=request.user, ip=context.current().ip)
        except Refusal as refusal:
            return refusal_page(request, refusal)
        grant = device.pending(typed)
        if grant is None:
            return self._page(
                request,
                typed=typed,
                error="That code is not valid, or it has expired. Check the code on your device.",
                status=400,
            )
        client = Application.objects.filter(client_id=grant.client_id).first()
        if client is None or not client.is_usable(request):
            return self._page(request, typed=typed, error="That app is no longer available.")
        if decision not in ("allow", "deny"):
            return self._confirm(request, grant, client, typed)
        decided = device.decide(
            grant=grant,
            user=request.user,
            approve=decision == "allow",
            auth_context=auth_context(request),
        )
        if not decided:
            return self._page(request, typed="", error="That request was already answered.")
        return render(
            request,
            self.template_name,
            {"stage": "done", "allowed": decision == "allow", "client": client},
        )

    def _page(
        self, request: HttpRequest, *, typed: str, error: str = "", status: int = 200
    ) -> HttpResponse:
        context_ = {"stage": "code", "typed": typed, "error": error}
        return render(request, self.template_name, context_, status=status)

    def _confirm(
        self, request: HttpRequest, grant: Any, client: Application, typed: str
    ) -> HttpResponse:
        from provider.scopes import GatehouseScopes

        descriptions = GatehouseScopes().get_all_scopes()
        if grant.api is not None:
            descriptions |= grant.api.scopes
        scopes = [descriptions.get(scope, scope) for scope in grant.scope.split()]
        return render(
            request,
            self.template_name,
            {
                "stage": "confirm",
                "client": client,
                "scopes": scopes,
                "typed": device.shown(device.normalise(typed)),
                "native": client.kind == ApplicationKind.NATIVE,
            },
        )


def auth_context(request: HttpRequest) -> dict[str, Any]:
    """When and how the person approving signed in, for the tokens the device will get: the
    same context an authorization code carries, with an OIDC session of the device's own (not
    the approving browser's: signing out of the phone that approved a TV does not sign the TV
    out; signing out everywhere does)."""
    import secrets

    from provider import signin
    from provider.claims import acting_staff
    from provider.services.sessions import start_provider_session

    sign_in = signin.sign_in_of(request, request.user)
    device_session = start_provider_session(
        user=request.user, session_key=secrets.token_urlsafe(32)
    )
    return {
        "sid": device_session.sid,
        "auth_time": sign_in.auth_time or getattr(request.user, "last_login", None),
        "amr": sign_in.amr,
        "acr": sign_in.acr,
        "act_sub": acting_staff(request),
    }
