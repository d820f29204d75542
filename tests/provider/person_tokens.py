"""A person's tokens for the tests, made the way the authorization-code grant makes them.

The sign-in and consent pages that end in a code belong to another part of the provider, so
these tests start one step later: oauthlib's bearer-token factory (with Gatehouse's own
generators: a JWT or opaque access token, a random refresh token) and the validator's
``save_bearer_token``, exactly what ``/o/token/`` runs for ``grant_type=authorization_code``
once the code is claimed. Everything after that (refresh, introspection, revocation) goes
through the real endpoints.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.test import Client as HttpClient
from django.utils import timezone
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauthlib.common import Request as OauthlibRequest

from provider.models import AccessToken, Api, Application, ProviderSession
from provider.services.applications import create_application
from tests.factories import DEFAULT_PASSWORD

SCOPES = ["invoices:read"]  # what the tests' apps may ask of the Invoices API
TOKEN = "/o/token/"
INTROSPECT = "/o/introspect/"


@dataclass
class App:
    application: Application
    secret: str

    def basic(self) -> str:
        raw = f"{self.application.client_id}:{self.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def web_app(
    *, name: str, api: Api, scopes: list[str], backchannel_logout_uri: str = "", **kwargs: Any
) -> App:
    registered = create_application(
        actor=None,
        name=name,
        kind="web",
        redirect_uris=["https://app.example.com/callback"],
        backchannel_logout_uri=backchannel_logout_uri,
        apis={api: scopes},
        **kwargs,
    )
    assert registered.client_secret
    return App(registered.application, registered.client_secret)


def resource_server(api: Api) -> App:
    """A confidential client listed as one of ``api``'s introspectors."""
    registered = create_application(
        actor=None, name=f"{api.name} server", kind="web", redirect_uris=["https://rs.example/cb"]
    )
    assert registered.client_secret
    api.introspectors.add(registered.application)
    return App(registered.application, registered.client_secret)


def open_session(user: Any, session_key: str | None) -> str:
    """The OIDC session of one browser session, as the authorize endpoint records it."""
    from provider.hooks import session_key_digest

    assert session_key, "the browser has no session"
    sid = uuid.uuid4().hex
    ProviderSession.objects.create(
        sid=sid, user=user, session_key_digest=session_key_digest(session_key)
    )
    return sid


def issue(
    app: App,
    user: Any,
    api: Api | None,
    scopes: list[str],
    *,
    organization: Any = None,
    sid: str = "",
    id_token: bool = False,
) -> dict[str, str]:
    """Access and refresh token for ``user`` at ``app``, saved as the code grant saves them."""
    server = get_oauthlib_core().server
    validator = server.request_validator
    request = OauthlibRequest("http://testserver/o/token/", http_method="POST")
    request.client = app.application
    request.client_id = app.application.client_id
    request.user = user
    request.scopes = scopes
    request.grant_type = "authorization_code"
    request.api = api
    request.resource = [api.identifier] if api is not None else []
    request.family = uuid.uuid4()
    request.auth_context = {
        "sid": sid,
        "auth_time": timezone.now(),
        "amr": ["pwd"],
        "acr": "",
        "organization_id": getattr(organization, "pk", None),
    }
    token = server.default_token_type.create_token(request, refresh_token=True)
    if id_token:
        from provider.models import IDToken

        IDToken.objects.create(
            user=user,
            application=app.application,
            jti=uuid.uuid4(),
            expires=timezone.now() + timedelta(minutes=10),
            scope="openid",
            sid=sid,
        )
    validator.save_bearer_token(token, request)
    return {"access_token": token["access_token"], "refresh_token": token["refresh_token"]}


def introspect(client: HttpClient, server: App, token: str) -> dict[str, Any]:
    response = client.post(INTROSPECT, {"token": token}, HTTP_AUTHORIZATION=server.basic())
    assert response.status_code == 200, response.content
    return dict(response.json())


def refresh(client: HttpClient, app: App, refresh_token: str) -> Any:
    return client.post(
        TOKEN,
        {"grant_type": "refresh_token", "refresh_token": refresh_token},
        HTTP_AUTHORIZATION=app.basic(),
    )


def signed_in(user: Any, **extra: Any) -> HttpClient:
    client = HttpClient(**extra)
    response = client.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302, response.content[:300]
    return client


def alive(client: HttpClient, app: App, rs: App, tokens: dict[str, str]) -> dict[str, str]:
    """The tokens work: introspection says active, and a refresh rotates them. Returns the
    rotated pair (the old refresh token is spent)."""
    assert introspect(client, rs, tokens["access_token"])["active"] is True
    response = refresh(client, app, tokens["refresh_token"])
    assert response.status_code == 200, response.content
    rotated = response.json()
    assert introspect(client, rs, rotated["access_token"])["active"] is True
    return {"access_token": rotated["access_token"], "refresh_token": rotated["refresh_token"]}


def dead(client: HttpClient, app: App, rs: App, tokens: dict[str, str]) -> None:
    """The tokens do not work, and trying mints nothing."""
    before = AccessToken.objects.count()
    assert introspect(client, rs, tokens["access_token"]) == {"active": False}
    response = refresh(client, app, tokens["refresh_token"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert AccessToken.objects.count() == before
