"""Organization-scoped sign-in at /o/authorize/ (issue 15, item 5): an SSO-only
organization's people come through its IdP, a member of several organizations picks one, and
``prompt=select_account`` lets the person continue or switch accounts. Whatever is chosen
comes back as ``organization=`` and is checked again: a pick of someone else's organization
issues nothing."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from jwcrypto import jwt

from organizations import services as org_services
from organizations.models import Membership
from provider import keys
from provider.models import Grant
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.provider.flows import (
    SPA_CALLBACK,
    Attempt,
    add_record,
    authorize,
    code_from,
    query_of,
    redeem,
)
from tests.sso.builders import HOST, org_with_domain, saml_connection

IDP_SSO_URL = "https://idp.example.net/sso"


@pytest.fixture(autouse=True)
def _sso_host(settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]


@pytest.fixture
def acme():
    """An SSO-only organization with one SAML connection and a verified domain."""
    org, owner = org_with_domain("acme", "acme.test")
    connection = saml_connection(org, owner, sso_url=IDP_SSO_URL)
    org_services.update_policy(actor=owner, org=org, sso_only=True)
    return org, owner, connection


def signed_in_by_password_before_sso_only(org, owner, email: str, source: str = "admin"):
    """A member whose browser signed in by password while the organization still allowed
    it (the rule is then switched on): their session has not been through the IdP."""
    org_services.update_policy(actor=owner, org=org, sso_only=False)
    person = member(org, email, source=source)
    browser = Client(HTTP_HOST=HOST)  # a browser names the host; allauth's SAML needs it
    response = browser.post(
        "/accounts/login/", {"login": person.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302, response.content[:300]
    org_services.update_policy(actor=owner, org=org, sso_only=True)
    return person, browser


@pytest.fixture
def attempt(spa) -> Attempt:
    return Attempt(client_id=spa.client_id, redirect_uri=SPA_CALLBACK, scope="openid organization")


def member(org, email: str, source: str = "admin"):
    user = UserFactory(email=email)
    Membership.objects.create(organization=org, user=user, role="member", source=source)
    return user


def signed_in(user) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302, response.content[:300]
    return client


def claims_of(client: Client, attempt: Attempt, response) -> dict:
    body = redeem(client, attempt, code_from(response, attempt)).json()
    return json.loads(jwt.JWT(jwt=body["id_token"], key=keys.public_keyset()).claims)


def next_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["next"][0]


# --- An SSO-only organization ------------------------------------------------------------------


def test_signed_out_sign_in_to_an_sso_only_organization_goes_straight_to_its_idp(attempt, acme):
    org, _owner, _connection = acme
    client = Client(HTTP_HOST=HOST)  # a browser names the host; allauth's SAML needs it
    response = authorize(client, attempt, organization="acme")
    assert response.status_code == 302
    assert response["Location"].startswith(IDP_SSO_URL + "?SAMLRequest=")
    # The public id names it as well as the slug.
    by_id = authorize(client, attempt, organization=str(org.public_id))
    assert by_id["Location"].startswith(IDP_SSO_URL)


def test_an_organization_with_two_connections_lets_the_person_pick_one(client, attempt, acme):
    org, owner, _connection = acme
    saml_connection(org, owner, name="Entra", sso_url="https://entra.example.net/sso")
    response = authorize(client, attempt, organization="acme")
    location = response["Location"]
    assert location.startswith("/sso/?")
    assert parse_qs(urlsplit(location).query)["org"] == ["acme"]
    assert next_of(location).startswith("/o/authorize/?")
    assert "organization=acme" in next_of(location)


def test_signed_out_sign_in_to_an_ordinary_organization_uses_the_login_page(client, attempt):
    org_with_domain("beta", "beta.test")
    response = authorize(client, attempt, organization="beta")
    assert response["Location"].startswith("/accounts/login/?")
    assert "organization=beta" in next_of(response["Location"])


def test_a_member_signed_in_by_password_is_sent_through_the_idp(attempt, acme):
    org, owner, connection = acme
    # Joined through the IdP: the organization vouches for them, so its rule binds them.
    _ada, browser = signed_in_by_password_before_sso_only(
        org, owner, "ada@personal.example", source=Membership.Source.SSO
    )

    response = authorize(browser, attempt, organization="acme")
    assert response["Location"].startswith(IDP_SSO_URL)
    assert not Grant.objects.exists()

    add_record(browser, method="socialaccount", provider=connection.slug, uid="ada")
    claims = claims_of(browser, attempt, authorize(browser, attempt, organization="acme"))
    assert claims["org_slug"] == "acme"
    assert claims["org_id"] == str(org.public_id)


def test_silent_sign_in_needing_the_idp_is_login_required(attempt, acme, settings):
    org, owner, _connection = acme
    _ada, browser = signed_in_by_password_before_sso_only(org, owner, "ada@acme.test")
    response = authorize(browser, attempt, organization="acme", prompt="none")
    query = query_of(response["Location"])
    assert response["Location"].startswith(SPA_CALLBACK)
    assert query["error"] == "login_required"
    assert query["iss"] == settings.GATEHOUSE_PUBLIC_URL
    assert "code" not in query


def test_another_organizations_idp_does_not_count(attempt, acme):
    org, owner, _connection = acme
    other_org, other_owner = org_with_domain("other", "other.test")
    other_connection = saml_connection(other_org, other_owner)
    _ada, browser = signed_in_by_password_before_sso_only(org, owner, "ada@acme.test")
    add_record(browser, method="socialaccount", provider=other_connection.slug, uid="ada")
    response = authorize(browser, attempt, organization="acme")
    assert response["Location"].startswith(IDP_SSO_URL)


def test_the_owner_is_not_bound_by_sso_only(attempt, acme):
    _org, owner, _connection = acme
    browser = signed_in(owner.user)
    claims = claims_of(browser, attempt, authorize(browser, attempt, organization="acme"))
    assert claims["org_slug"] == "acme"
    assert claims["org_roles"] == ["owner"]


# --- Picking an organization -------------------------------------------------------------------


@pytest.fixture
def two_orgs_person():
    person = UserFactory(email="pat@person.example")
    for slug in ("alpha", "beta"):
        org, _owner = org_with_domain(slug, f"{slug}.test")
        Membership.objects.create(organization=org, user=person, role="member", source="admin")
    return person


def test_a_member_of_several_organizations_picks_one(attempt, two_orgs_person):
    org_with_domain("gamma", "gamma.test")  # exists, but not one of theirs
    browser = signed_in(two_orgs_person)

    page = authorize(browser, attempt)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'value="alpha"' in text
    assert 'value="beta"' in text
    assert 'value="gamma"' not in text

    picked = browser.post(attempt.url(), {"organization": "beta"})
    assert picked.status_code == 302
    assert query_of(picked["Location"])["organization"] == "beta"
    claims = claims_of(browser, attempt, browser.get(picked["Location"]))
    assert claims["org_slug"] == "beta"


def test_picking_an_organization_one_is_not_a_member_of_issues_nothing(attempt, two_orgs_person):
    org_with_domain("gamma", "gamma.test")
    browser = signed_in(two_orgs_person)
    response = browser.post(attempt.url(), {"organization": "gamma"})
    assert response.status_code == 400
    assert b'id="choose-error"' in response.content
    assert not Grant.objects.exists()


def test_a_member_of_one_organization_gets_it_without_a_question(attempt):
    org, owner = org_with_domain("solo", "solo.test")
    browser = signed_in(owner.user)
    response = authorize(browser, attempt)
    assert query_of(response["Location"])["organization"] == "solo"
    claims = claims_of(browser, attempt, browser.get(response["Location"]))
    assert claims["org_id"] == str(org.public_id)


def test_prompt_login_through_the_organization_detour_asks_for_one_login(attempt):
    _org, owner = org_with_domain("solo", "solo.test")
    browser = Client()
    to_login = authorize(browser, attempt, prompt="login")
    back = next_of(to_login["Location"])
    browser.post(
        f"/accounts/login/?next={back}", {"login": owner.user.email, "password": DEFAULT_PASSWORD}
    )

    named = browser.get(back)  # the one organization is named in the address ...
    assert query_of(named["Location"])["organization"] == "solo"
    # ... and the login just made still answers prompt=login: a code, no second login.
    claims = claims_of(browser, attempt, browser.get(named["Location"]))
    assert claims["org_slug"] == "solo"


def test_someone_in_no_organization_signs_in_without_organization_claims(attempt, user, password):
    browser = Client()
    browser.post("/accounts/login/", {"login": user.email, "password": password})
    claims = claims_of(browser, attempt, authorize(browser, attempt))
    assert "org_id" not in claims


def test_silent_sign_in_cannot_pick_an_organization(attempt, two_orgs_person, settings):
    browser = signed_in(two_orgs_person)
    response = authorize(browser, attempt, prompt="none")
    assert query_of(response["Location"])["error"] == "account_selection_required"
    assert not Grant.objects.exists()


# --- prompt=select_account ---------------------------------------------------------------------


def test_select_account_asks_whether_to_continue_as_the_person_signed_in(spa, user, password):
    attempt = Attempt(client_id=spa.client_id, redirect_uri=SPA_CALLBACK)
    browser = Client()
    browser.post("/accounts/login/", {"login": user.email, "password": password})

    page = authorize(browser, attempt, prompt="select_account")
    assert page.status_code == 200
    assert user.email in page.content.decode()
    assert b'id="choose-other"' in page.content

    chosen = browser.post(attempt.url(prompt="select_account"), {"account": "continue"})
    assert "prompt" not in query_of(chosen["Location"])
    code_from(browser.get(chosen["Location"]), attempt)


def test_use_another_account_signs_out_and_comes_back_after_the_next_login(spa, user, password):
    attempt = Attempt(client_id=spa.client_id, redirect_uri=SPA_CALLBACK)
    browser = Client()
    browser.post("/accounts/login/", {"login": user.email, "password": password})
    other = UserFactory(email="other@person.example")

    response = browser.post(attempt.url(prompt="select_account"), {"account": "other"})

    assert response["Location"].startswith("/accounts/login/?")
    assert "_auth_user_id" not in browser.session
    back = next_of(response["Location"])
    assert "select_account" not in back
    browser.post(f"/accounts/login/?next={back}", {"login": other.email, "password": password})
    claims = claims_of(browser, attempt, browser.get(back))
    assert claims["sub"] == str(other.public_id)


def test_select_account_when_signed_out_is_answered_by_the_login(client, spa):
    attempt = Attempt(client_id=spa.client_id, redirect_uri=SPA_CALLBACK)
    response = authorize(client, attempt, prompt="select_account")
    assert response["Location"].startswith("/accounts/login/?")
    assert "select_account" not in next_of(response["Location"])


def test_silent_select_account_is_refused_by_the_rules_of_prompt(logged_in_client, spa, settings):
    attempt = Attempt(client_id=spa.client_id, redirect_uri=SPA_CALLBACK)
    response = authorize(logged_in_client, attempt, prompt="none select_account")
    query = query_of(response["Location"])
    assert query["error"] == "invalid_request"
    assert "code" not in query
