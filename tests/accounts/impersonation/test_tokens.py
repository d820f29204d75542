"""Tokens an app gets through the OpenID provider while support impersonates a person carry
an ``act`` claim naming the staff member (RFC 8693): a real authorization-code flow."""

from __future__ import annotations

import json

import pytest
from jwcrypto import jwt

from accounts.impersonation.models import Impersonation
from provider import keys
from provider.models import AccessToken, Grant, ProviderSession, RefreshToken
from provider.services.apis import create_api
from provider.services.applications import create_application
from provider.services.keys import ensure_signing_keys
from tests.accounts.impersonation.helpers import begin, make_staff, staff_browser
from tests.factories import UserFactory
from tests.organizations.conftest import signed_in
from tests.provider.flows import WEB_CALLBACK, Attempt, authorize, code_from, redeem, refresh


@pytest.fixture
def invoices():
    ensure_signing_keys()
    return create_api(
        actor=None,
        identifier="https://invoices.example.com/",
        name="Invoices",
        scopes={"invoices:read": "Read your invoices"},
    )


@pytest.fixture
def dashboard(invoices):
    """A first-party web app with the Invoices API (JWT access tokens)."""
    return create_application(
        actor=None,
        name="Dashboard",
        kind="web",
        redirect_uris=[WEB_CALLBACK],
        allowed_scopes=["openid", "email", "offline_access"],
        first_party=True,
        apis={invoices: ["invoices:read"]},
    )


@pytest.fixture
def partner(invoices):
    """A third-party app the person never allowed."""
    return create_application(
        actor=None,
        name="Partner",
        kind="web",
        redirect_uris=[WEB_CALLBACK],
        allowed_scopes=["openid", "email"],
    )


def attempt_for(registered, invoices) -> Attempt:
    return Attempt(
        client_id=registered.application.client_id,
        redirect_uri=WEB_CALLBACK,
        scope="openid email offline_access invoices:read",
        extra={"resource": invoices.identifier},
    )


def claims_of(token: str, alg: str = "RS256") -> dict:
    return json.loads(jwt.JWT(jwt=token, key=keys.public_keyset(), algs=[alg]).claims)


def basic(registered) -> str:
    import base64

    raw = f"{registered.application.client_id}:{registered.client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def test_id_and_access_tokens_name_the_staff_member_in_act(dashboard, invoices):
    person = UserFactory(email="pat@example.com")
    staff = make_staff()
    browser = staff_browser(staff)
    imp = begin(browser, person)
    attempt = attempt_for(dashboard, invoices)

    code = code_from(authorize(browser, attempt), attempt)
    tokens = redeem(browser, attempt, code, auth=basic(dashboard))

    assert tokens.status_code == 200, tokens.content
    body = tokens.json()
    id_claims = claims_of(body["id_token"])
    assert id_claims["sub"] == str(person.public_id)
    assert id_claims["act"] == {"sub": str(staff.public_id)}
    access_claims = claims_of(body["access_token"])
    assert access_claims["sub"] == str(person.public_id)
    assert access_claims["act"] == {"sub": str(staff.public_id)}
    assert Grant.objects.get().act_sub == str(staff.public_id)
    # A refreshed token still says who got it.
    refreshed = refresh(
        browser, dashboard.application.client_id, body["refresh_token"], auth=basic(dashboard)
    )
    assert refreshed.status_code == 200, refreshed.content
    assert claims_of(refreshed.json()["access_token"])["act"] == {"sub": str(staff.public_id)}
    assert claims_of(refreshed.json()["id_token"])["act"] == {"sub": str(staff.public_id)}
    # Ending the impersonation ends its OIDC session (the apps hear of it); offline tokens
    # stay, still marked.
    browser.post("/impersonation/end/")
    imp.refresh_from_db()
    assert imp.status == Impersonation.Status.ENDED
    assert ProviderSession.objects.get(sid=Grant.objects.get().sid).ended_at is not None
    assert RefreshToken.objects.filter(act_sub=str(staff.public_id)).exists()


def test_the_person_signing_in_themselves_gets_no_act_claim(dashboard, invoices):
    person = UserFactory(email="pat@example.com")
    browser = signed_in(person)
    attempt = attempt_for(dashboard, invoices)

    code = code_from(authorize(browser, attempt), attempt)
    body = redeem(browser, attempt, code, auth=basic(dashboard)).json()

    assert "act" not in claims_of(body["id_token"])
    assert "act" not in claims_of(body["access_token"])
    assert AccessToken.objects.get().act_sub == ""


def test_support_cannot_allow_a_new_app_for_the_person(partner, invoices):
    person = UserFactory(email="pat@example.com")
    browser = staff_browser(make_staff())
    begin(browser, person)
    attempt = Attempt(
        client_id=partner.application.client_id, redirect_uri=WEB_CALLBACK, scope="openid email"
    )

    response = browser.post(attempt.url(), {"decision": "allow"})

    assert response.status_code == 302
    assert "error=access_denied" in response["Location"]
    assert not Grant.objects.exists()
