"""An app's authorization request naming an organization (``organization=<slug or id>``)
brands the whole sign-in: the login page it leads to, the emails sent on the way, and the
consent screen (issue 18, item 6)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import Client

from organizations.models import Membership, Organization
from organizations.services import update_organization
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.organizations import branding_images as images
from tests.provider.flows import WEB_CALLBACK, Attempt, authorize


@pytest.fixture
def acme() -> Organization:
    owner = UserFactory(email="owner@acme.example")
    from organizations.services import create_organization

    org = create_organization(actor=owner, name="Acme", slug="acme")
    return update_organization(
        actor=Membership.objects.get(organization=org, user=owner),
        org=org,
        name="Acme",
        logo_url="",
        brand_colour="#0b5fff",
        display_name="Acme Cloud",
        logo=images.png(),
    )


@pytest.fixture
def person(acme):
    user = UserFactory(email="pat@acme.example")
    Membership.objects.create(organization=acme, user=user, role="member", source="admin")
    return user


@pytest.fixture
def attempt(webapp) -> Attempt:
    return Attempt(client_id=webapp.client_id, redirect_uri=WEB_CALLBACK, scope="openid email")


def branded(page, org: Organization) -> bool:
    text = page.content.decode()
    assert org.logo is not None
    return (
        'id="org-brand"' in text
        and "Acme Cloud" in text
        and f"/branding/logos/{org.logo.sha256}.png" in text
        and "--brand-primary: #0b5fff" in text
    )


@pytest.mark.parametrize("named_by", ["slug", "public_id"])
def test_the_login_and_consent_pages_wear_the_named_organizations_brand(
    acme, person, attempt, named_by
):
    browser = Client()
    value = acme.slug if named_by == "slug" else str(acme.public_id)
    to_login = authorize(browser, attempt, organization=value)
    assert to_login.status_code == 302
    assert to_login["Location"].startswith("/accounts/login/")
    login_page = browser.get(to_login["Location"])
    assert branded(login_page, acme)

    back = browser.post(to_login["Location"], {"login": person.email, "password": DEFAULT_PASSWORD})
    assert back.status_code == 302, back.content[:300]
    consent = browser.get(back["Location"])
    assert consent.status_code == 200, consent.content[:500]
    assert "Partner Portal" in consent.content.decode()
    assert branded(consent, acme)


def test_the_code_email_of_that_sign_in_is_branded(acme, person, attempt):
    browser = Client()
    to_login = authorize(browser, attempt, organization="acme")
    browser.get(to_login["Location"])
    browser.post("/accounts/login/code/", {"email": person.email})
    [message] = mail.outbox
    assert isinstance(message, EmailMultiAlternatives)
    [(html, _)] = message.alternatives
    assert isinstance(html, str)
    assert acme.logo is not None
    assert f"http://testserver/branding/logos/{acme.logo.sha256}.png" in html
    assert "#0b5fff" in html


def test_a_request_naming_no_organization_shows_the_operators_brand(acme, person, attempt):
    browser = Client()
    authorize(browser, attempt, organization="acme")
    to_login = authorize(browser, attempt)
    assert not branded(browser.get(to_login["Location"]), acme)
    # Nor does one naming an organization that does not exist.
    authorize(browser, attempt, organization="acme")
    authorize(browser, attempt, organization="no-such-org")
    assert not branded(browser.get("/accounts/login/"), acme)
