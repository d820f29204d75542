"""Apps that call the management API with OAuth access tokens: how the tests get them.

Tokens come from the real token endpoint (client credentials, RFC 8707 ``resource``), never
from rows written by hand, so the tests exercise what a backend really holds."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from django.test import Client

from provider.management_api import PERMISSIONS, management_api
from provider.models import Application
from provider.services.applications import create_application
from provider.services.keys import ensure_signing_keys

EVERY_PERMISSION = sorted(PERMISSIONS)


@dataclass
class Backend:
    application: Application
    secret: str

    @property
    def client_id(self) -> str:
        return str(self.application.client_id)

    def basic(self) -> str:
        raw = f"{self.client_id}:{self.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def token(self, scopes: list[str] | None = None, resource: str | None = None) -> str:
        body = {"grant_type": "client_credentials"}
        body["resource"] = resource or management_api().identifier
        if scopes is not None:
            body["scope"] = " ".join(scopes)
        response = Client().post("/o/token/", body, HTTP_AUTHORIZATION=self.basic())
        assert response.status_code == 200, response.content
        return str(response.json()["access_token"])

    def caller(self, scopes: list[str] | None = None) -> TokenClient:
        return TokenClient(self.token(scopes))


class TokenClient(Client):
    """A test client that sends ``Authorization: Bearer <token>`` and JSON bodies."""

    def __init__(self, token: str, **kwargs: Any) -> None:
        super().__init__(HTTP_AUTHORIZATION=f"Bearer {token}", **kwargs)
        self.access_token = token

    def send(self, method: str, path: str, body: Any = None) -> Any:
        import json

        call = getattr(self, method.lower())
        if body is None:
            return call(path)
        return call(path, json.dumps(body), content_type="application/json")


def backend(
    *, name: str = "Ops backend", scopes: list[str] | None = None, organization: Any = None
) -> Backend:
    """An M2M app allowed ``scopes`` (all of them by default) of the management API."""
    ensure_signing_keys()
    registered = create_application(
        actor=None,
        name=name,
        kind="m2m",
        organization=organization,
        apis={management_api(): EVERY_PERMISSION if scopes is None else scopes},
    )
    assert registered.client_secret is not None
    return Backend(registered.application, registered.client_secret)
