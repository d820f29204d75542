"""/account/apps/ (issue 15, item 6): the apps a person has authorized, with their permissions
in plain words, organization and last use, and "Remove access", which ends the app's tokens
at once. Authorizations are written as the consent screen writes them (one row per app and
organization); tokens as the code grant saves them (person_tokens.py)."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from consent.models import ConsentEvent
from organizations import services as organizations
from provider.models import Authorization
from tests.factories import UserFactory
from tests.provider.person_tokens import (
    alive,
    dead,
    introspect,
    issue,
    refresh,
    signed_in,
    web_app,
)

PAGE = "/account/apps/"
SCOPES = ["invoices:read"]


@pytest.fixture
def app(invoices_api):
    return web_app(
        name="Ledger Cloud",
        api=invoices_api,
        scopes=SCOPES,
        logo_url="https://ledger.example/logo.png",
        allowed_scopes=["email"],
    )


@pytest.fixture
def acme(person):
    owner = UserFactory(email="owner@acme.example")
    return organizations.create_organization(actor=owner, name="Acme Corp", slug="acme")


def authorize(person, app, organization=None, scopes=("openid", "email", "invoices:read")):
    return Authorization.objects.create(
        user=person, application=app.application, organization=organization, scopes=list(scopes)
    )


def test_the_page_lists_what_each_app_may_do_in_plain_words(person, app, acme, invoices_api):
    authorize(person, app, acme)
    issue(app, person, invoices_api, SCOPES, organization=acme)

    page = signed_in(person).get(PAGE)

    assert page.status_code == 200
    html = page.content.decode()
    assert "Ledger Cloud" in html
    assert "https://ledger.example/logo.png" in html
    assert "Sign you in" in html
    assert "See your email address" in html
    assert "Read your invoices" in html
    assert "invoices:read" not in html
    assert "For Acme Corp" in html
    assert "Last used" in html
    assert 'href="/account/apps/"' in html  # in the account navigation


def test_an_app_never_used_says_so_and_another_persons_apps_are_not_listed(person, app):
    authorize(person, app)
    other = UserFactory(email="sam@person.example")
    stranger_app = web_app(
        name="Stranger Notes", api=app.application.api_access.get().api, scopes=SCOPES
    )
    authorize(other, stranger_app)

    html = signed_in(person).get(PAGE).content.decode()

    assert "Not used yet" in html
    assert "Stranger Notes" not in html


def test_a_first_party_app_with_live_tokens_is_listed_without_an_authorization(
    person, invoices_api
):
    own = web_app(name="Our Dashboard", api=invoices_api, scopes=SCOPES, first_party=True)
    issue(own, person, invoices_api, SCOPES)

    html = signed_in(person).get(PAGE).content.decode()

    assert "Our Dashboard" in html
    assert "Read your invoices" in html
    assert f"/account/apps/clients/{own.application.client_id}/remove/" in html


def test_remove_access_ends_the_tokens_at_once_and_forgets_the_authorization(
    person, app, rs, invoices_api
):
    authorization = authorize(person, app)
    checker = Client()
    tokens = alive(checker, app, rs, issue(app, person, invoices_api, SCOPES))
    browser = signed_in(person)

    response = browser.post(f"/account/apps/{authorization.pk}/remove/")

    assert response.status_code == 302
    assert response["Location"] == PAGE
    assert not Authorization.objects.filter(pk=authorization.pk).exists()
    dead(checker, app, rs, tokens)
    [event] = AuditEvent.objects.filter(action="oauth.authorization_removed")
    assert event.actor_id == person.pk
    assert event.data["client_id"] == app.application.client_id
    assert event.data["ended"] == {"access": 1, "refresh": 1}
    assert "Ledger Cloud" not in browser.get(PAGE).content.decode()


def test_removing_one_organizations_access_keeps_the_others(person, app, rs, acme, invoices_api):
    at_acme = authorize(person, app, acme)
    personal = authorize(person, app)
    checker = Client()
    acme_tokens = issue(app, person, invoices_api, SCOPES, organization=acme)
    own_tokens = issue(app, person, invoices_api, SCOPES)

    signed_in(person).post(f"/account/apps/{at_acme.pk}/remove/")

    dead(checker, app, rs, acme_tokens)
    alive(checker, app, rs, own_tokens)
    assert Authorization.objects.filter(pk=personal.pk).exists()


def test_a_person_cannot_remove_another_persons_access(person, app, rs, invoices_api):
    other = UserFactory(email="sam@person.example")
    theirs = authorize(other, app)
    tokens = issue(app, other, invoices_api, SCOPES)
    browser = signed_in(person)

    response = browser.post(f"/account/apps/{theirs.pk}/remove/")
    by_client = browser.post(f"/account/apps/clients/{app.application.client_id}/remove/")

    assert response.status_code == 404
    assert by_client.status_code == 404
    assert Authorization.objects.filter(pk=theirs.pk).exists()
    alive(Client(), app, rs, tokens)
    assert not AuditEvent.objects.filter(action="oauth.authorization_removed").exists()


def test_removing_a_first_party_apps_tokens(person, invoices_api, rs):
    own = web_app(name="Our Dashboard", api=invoices_api, scopes=SCOPES, first_party=True)
    tokens = issue(own, person, invoices_api, SCOPES)

    response = signed_in(person).post(f"/account/apps/clients/{own.application.client_id}/remove/")

    assert response.status_code == 302
    assert introspect(Client(), rs, tokens["access_token"]) == {"active": False}
    assert refresh(Client(), own, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_remove_is_a_post_with_a_csrf_token(person, app, rs, invoices_api):
    authorization = authorize(person, app)
    tokens = issue(app, person, invoices_api, SCOPES)
    browser = signed_in(person)
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = browser.cookies

    assert browser.get(f"/account/apps/{authorization.pk}/remove/").status_code == 405
    assert strict.post(f"/account/apps/{authorization.pk}/remove/").status_code == 403
    assert Authorization.objects.filter(pk=authorization.pk).exists()
    alive(Client(), app, rs, tokens)


def test_the_page_needs_a_signed_in_person(app, person):
    authorization = authorize(person, app)

    page = Client().get(PAGE)
    removal = Client().post(f"/account/apps/{authorization.pk}/remove/")

    assert page.status_code == 302
    assert "/accounts/login/" in page["Location"]
    assert removal.status_code == 302
    assert Authorization.objects.filter(pk=authorization.pk).exists()


def test_removing_personal_access_keeps_an_organizations(person, app, rs, acme, invoices_api):
    at_acme = authorize(person, app, acme)
    personal = authorize(person, app)
    checker = Client()
    acme_tokens = issue(app, person, invoices_api, SCOPES, organization=acme)
    own_tokens = issue(app, person, invoices_api, SCOPES)

    signed_in(person).post(f"/account/apps/{personal.pk}/remove/")

    dead(checker, app, rs, own_tokens)
    alive(checker, app, rs, acme_tokens)
    assert Authorization.objects.filter(pk=at_acme.pk).exists()


def test_removing_access_the_ledger_never_recorded_writes_no_withdrawal(person, app):
    """An authorization from before the consent ledger recorded OAuth consent (tests of the
    ledger itself: test_consent_ledger.py): removed like any other, with no grant to end."""
    authorization = authorize(person, app)

    response = signed_in(person).post(f"/account/apps/{authorization.pk}/remove/")

    assert response.status_code == 302
    assert not Authorization.objects.filter(pk=authorization.pk).exists()
    assert not ConsentEvent.objects.filter(user=person).exists()
    assert AuditEvent.objects.filter(action="oauth.authorization_removed").count() == 1
