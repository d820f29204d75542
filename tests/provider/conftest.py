"""The provider's test world: signing keys, an API, and one app of each kind."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest

from provider.models import Api, Application
from provider.services.apis import create_api
from provider.services.applications import Registered, create_application
from provider.services.keys import ensure_signing_keys
from tests.factories import UserFactory


@pytest.fixture
def signing_keys():
    return ensure_signing_keys()


@pytest.fixture
def invoices_api(signing_keys) -> Api:
    return create_api(
        actor=None,
        identifier="https://invoices.example.com/",
        name="Invoices",
        access_token_lifetime=300,
        scopes={"invoices:read": "Read your invoices", "invoices:write": "Change your invoices"},
    )


@pytest.fixture
def reports_api(signing_keys) -> Api:
    return create_api(
        actor=None,
        identifier="https://reports.example.com/",
        name="Reports",
        scopes={"reports:read": "Read reports"},
        token_format="opaque",
    )


@dataclass
class Client:
    application: Application
    secret: str | None

    @property
    def client_id(self) -> str:
        return self.application.client_id

    def basic(self) -> str:
        raw = f"{self.client_id}:{self.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def as_client(registered: Registered) -> Client:
    return Client(registered.application, registered.client_secret)


@pytest.fixture
def backend(invoices_api, reports_api) -> Client:
    """An M2M app allowed invoices:read (not write) and reports:read."""
    return as_client(
        create_application(
            actor=None,
            name="Billing backend",
            kind="m2m",
            apis={invoices_api: ["invoices:read"], reports_api: ["reports:read"]},
        )
    )


@pytest.fixture
def spa(signing_keys) -> Client:
    """A first-party single-page app (public client: PKCE, no secret)."""
    return as_client(
        create_application(
            actor=None,
            name="Storefront",
            kind="spa",
            redirect_uris=["https://spa.example.com/cb"],
            post_logout_redirect_uris=["https://spa.example.com/bye"],
            allowed_scopes=["openid", "profile", "email", "offline_access", "organization"],
            first_party=True,
        )
    )


@pytest.fixture
def webapp(signing_keys, invoices_api) -> Client:
    """A third-party web app (confidential), allowed invoices:read, signing ID tokens ES256."""
    return as_client(
        create_application(
            actor=None,
            name="Partner Portal",
            kind="web",
            redirect_uris=["https://app.example.com/callback"],
            post_logout_redirect_uris=["https://app.example.com/signed-out"],
            allowed_scopes=["openid", "profile", "email", "offline_access", "organization"],
            algorithm="ES256",
            apis={invoices_api: ["invoices:read"]},
        )
    )


# --- A person's tokens for the Invoices API (tests/provider/person_tokens.py) ------------------


@pytest.fixture
def person():
    return UserFactory(email="pat@person.example")


@pytest.fixture
def app(invoices_api):
    """A confidential web app allowed ``invoices:read``."""
    from tests.provider.person_tokens import SCOPES, web_app

    return web_app(name="Invoices web", api=invoices_api, scopes=SCOPES)


@pytest.fixture
def rs(invoices_api):
    """The Invoices API's resource server, listed as its introspector."""
    from tests.provider.person_tokens import resource_server

    return resource_server(invoices_api)
