"""Home-realm discovery (/sso/): an email or organization ID in, the right IdP out, and the
same answer whether or not the person has an account."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection as db
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sso import services
from tests.factories import UserFactory
from tests.sso.builders import HOST, org_with_domain, saml_connection


@pytest.fixture
def client(settings) -> Client:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]
    return Client(HTTP_HOST=HOST)


@pytest.fixture
def acme():
    org, owner = org_with_domain("acme", "acme.test")
    return org, owner, saml_connection(org, owner, sso_url="https://idp.acme.test/sso")


def assert_sent_to_idp(response, sso_url: str) -> None:
    assert response.status_code == 302, response.content[:300]
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == sso_url
    assert "SAMLRequest" in parse_qs(location.query)


def test_a_work_email_goes_to_its_organizations_idp(client, acme):
    response = client.post("/sso/", {"identifier": "Ada@ACME.test"})
    assert_sent_to_idp(response, "https://idp.acme.test/sso")


def test_an_organization_id_goes_to_its_idp(client, acme):
    assert_sent_to_idp(client.post("/sso/", {"identifier": "acme"}), "https://idp.acme.test/sso")


def test_unknown_domain_and_unknown_org_get_the_same_answer(client, acme):
    for identifier in ("someone@elsewhere.test", "no-such-org"):
        response = client.post("/sso/", {"identifier": identifier})
        assert response.status_code == 200
        assert b'id="sso-not-found"' in response.content


def test_the_answer_does_not_depend_on_whether_the_person_has_an_account(client, acme):
    UserFactory(email="known@acme.test")
    UserFactory(email="known@elsewhere.test")
    # Each process keeps the connection once read (sso.connection_cache): both answers compared
    # below find it there.
    client.post("/sso/", {"identifier": "someone@acme.test"})
    # and the operator's branding once read (organizations.branding): a page drawn once first.
    client.post("/sso/", {"identifier": "someone@nowhere.test"})
    answers = []
    for identifier in ("known@acme.test", "unknown@acme.test"):
        with CaptureQueriesContext(db) as queries:
            response = client.post("/sso/", {"identifier": identifier})
        assert_sent_to_idp(response, "https://idp.acme.test/sso")
        answers.append(len(queries))
    misses = []
    for identifier in ("known@elsewhere.test", "unknown@elsewhere.test"):
        with CaptureQueriesContext(db) as queries:
            response = client.post("/sso/", {"identifier": identifier})
        misses.append(
            (response.status_code, response.content.count(b"sso-not-found"), len(queries))
        )
    # Same queries for people with and without accounts: no timing difference to measure.
    assert answers[0] == answers[1]
    assert misses[0] == misses[1]


def test_a_draft_or_disabled_connection_is_not_offered(client, acme):
    org, owner, conn = acme
    services.disable(actor=owner, org=org, connection_id=conn.pk)
    response = client.post("/sso/", {"identifier": "ada@acme.test"})
    assert b'id="sso-not-found"' in response.content
    draft = saml_connection(org, owner, active=False, name="Draft")
    response = client.post("/sso/", {"identifier": "acme"})
    assert b'id="sso-not-found"' in response.content
    # Its protocol URLs refuse a login too.
    response = client.post(f"/accounts/saml/{draft.slug}/login/")
    assert response.status_code == 404


def test_an_unverified_domain_routes_nowhere(client):
    org, owner = org_with_domain("bolt", "bolt.test")
    conn = saml_connection(org, owner)
    from organizations.models import Domain

    Domain.objects.create(organization=org, name="unproven.test", verification_token="u" * 32)
    conn.domains.add(*Domain.objects.filter(name="unproven.test"))
    response = client.post("/sso/", {"identifier": "x@unproven.test"})
    assert b'id="sso-not-found"' in response.content


def test_several_connections_let_the_person_choose(client, acme):
    org, owner, first = acme
    second = saml_connection(org, owner, name="Entra ID", sso_url="https://entra.acme.test/sso")
    response = client.post("/sso/", {"identifier": "ada@acme.test"})
    assert response.status_code == 200
    assert b'id="sso-choices"' in response.content
    assert first.name.encode() in response.content
    assert b"Entra ID" in response.content
    response = client.post("/sso/", {"identifier": "ada@acme.test", "connection": second.slug})
    assert_sent_to_idp(response, "https://entra.acme.test/sso")


@pytest.mark.parametrize("identifier", ["", " ", "x" * 300])
def test_bad_input_is_a_form_error(client, identifier):
    response = client.post("/sso/", {"identifier": identifier})
    assert response.status_code == 400
    assert b'id="id_identifier_error"' in response.content
    assert "Location" not in response


def test_the_login_page_offers_sso_and_the_form_takes_an_org_hint(client, acme):
    page = client.get("/accounts/login/?org=acme")
    assert b'id="sso-link"' in page.content
    assert b'href="/sso/?org=acme"' in page.content
    form = client.get("/sso/?org=acme")
    assert form.status_code == 200
    assert b'value="acme"' in form.content


def test_next_is_kept_only_when_safe(client, acme):
    from allauth.socialaccount.internal import statekit

    client.post("/sso/", {"identifier": "acme", "next": "/account/"})
    states = client.session.get(statekit.STATES_SESSION_KEY)
    assert states
    assert "/account/" in str(states)
    client.post("/sso/", {"identifier": "acme", "next": "https://evil.test/"})
    states = client.session.get(statekit.STATES_SESSION_KEY)
    assert "evil.test" not in str(states)
