""" "Test connection": an org admin runs a real login through a connection (even a draft) and
gets a diagnostic page instead of a session. Nothing is created for the tested identity."""

from __future__ import annotations

import re

from allauth.socialaccount.models import SocialAccount
from django.test import RequestFactory

from accounts.models import User
from audit.models import AuditEvent
from organizations.models import Membership
from sso import entry, services
from sso.models import Connection
from tests.sso.conftest import (
    HOST,
    forged_login,
    oidc_connection,
    oidc_login,
    saml_connection,
    saml_login,
    session_user,
)


def start_test(web, org, connection) -> None:
    """What the portal's "Test connection" button does, in this admin's browser session."""
    web.force_login(org.owner)
    request = RequestFactory(HTTP_HOST=HOST).post("/")
    request.session = web.session
    request.user = org.owner
    services.start_test(actor=org.admin, org=org.org, connection_id=connection.pk)
    entry.start_test(request, connection)
    request.session.save()


def assert_nothing_created(web, org) -> None:
    assert session_user(web) == org.owner  # still the admin, not the tested person
    assert not User.objects.filter(email__endswith="@acme.test").exists()
    assert not SocialAccount.objects.exists()
    assert not Membership.objects.filter(source="sso").exists()


def diagnostics(connection) -> list[dict]:
    return [
        {"outcome": e.outcome, **e.data}
        for e in AuditEvent.objects.filter(action="sso.connection_tested")
        if e.data.get("connection") == connection.slug
    ]


def test_a_saml_test_login_shows_what_the_idp_sent_and_signs_nobody_in(web, saml_idp, acme_org):
    connection = saml_connection(
        acme_org, saml_idp, status="draft", role_mapping={"engineering": "admin"}
    )
    start_test(web, acme_org, connection)

    response = saml_login(web, saml_idp, connection, user="ada@acme.test", groups="engineering")

    assert response.status_code == 200, response.content[:1000]
    page = response.content.decode()
    assert 'id="sso-test-passed"' in page
    assert "ada@acme.test" in page
    assert "engineering" in page
    assert "admin" in page
    assert 'id="sso-test-attributes"' in page
    assert "first_name" in page
    assert_nothing_created(web, acme_org)
    assert diagnostics(connection)[-1]["check"] == "passed"
    # The marker is used up: the next login through the draft is refused again.
    assert web.post(f"/accounts/saml/{connection.slug}/login/").status_code == 404


def test_a_failing_saml_test_names_the_check(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp, status="draft")
    start_test(web, acme_org, connection)

    response = saml_login(web, saml_idp, connection, user="ada@acme.test", case="wrong_audience")

    assert response.status_code == 200
    assert 'id="sso-test-failed"' in response.content.decode()
    assert b"wrong_audience" in response.content
    assert_nothing_created(web, acme_org)
    assert diagnostics(connection)[-1]["check"] == "wrong_audience"


def test_a_saml_test_shows_which_rule_would_refuse_the_person(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp, status="draft")
    start_test(web, acme_org, connection)

    response = saml_login(web, saml_idp, connection, user="eve@elsewhere.test")

    assert b"email_domain" in response.content
    assert_nothing_created(web, acme_org)


def test_an_oidc_test_login_shows_the_claims_and_signs_nobody_in(web, oidc_idp, acme_org):
    connection = oidc_connection(acme_org, oidc_idp, status="draft")
    start_test(web, acme_org, connection)

    _, done = oidc_login(web, oidc_idp, connection)

    assert done.status_code == 200, done.content[:1000]
    page = done.content.decode()
    assert 'id="sso-test-passed"' in page
    assert "ada-sub" in page
    assert "ada@acme.test" in page
    assert_nothing_created(web, acme_org)
    assert diagnostics(connection)[-1]["check"] == "passed"


def test_a_failing_oidc_test_names_the_check(web, forger, acme_org):
    connection = oidc_connection(acme_org, forger, status="draft")
    start_test(web, acme_org, connection)

    _, done = forged_login(web, forger, connection, claims={"nonce": "wrong"})

    assert done.status_code == 200, done.content[:1000]
    assert 'id="sso-test-failed"' in done.content.decode()
    assert b"nonce" in done.content
    assert_nothing_created(web, acme_org)
    assert diagnostics(connection)[-1]["check"] == "nonce"


def test_a_test_marker_of_another_connection_does_not_open_a_draft(web, saml_idp, acme_org):
    draft = saml_connection(acme_org, saml_idp, status="draft", name="Draft")
    other = saml_connection(acme_org, saml_idp, name="Other")
    start_test(web, acme_org, other)

    assert web.post(f"/accounts/saml/{draft.slug}/login/").status_code == 404


def test_an_oidc_test_whose_idp_is_unreachable_says_so(web, forger, acme_org, settings):
    connection = oidc_connection(acme_org, forger, status="draft")
    Connection.objects.filter(pk=connection.pk).update(
        discovery_url="http://127.0.0.1:9/.well-known/openid-configuration"
    )
    start_test(web, acme_org, connection)

    response = web.post(f"/accounts/oidc/{connection.slug}/login/")

    assert response.status_code == 200, response.content[:1000]
    assert 'id="sso-test-failed"' in response.content.decode()
    assert diagnostics(connection)[-1]["check"] == "discovery"
    assert not AuditEvent.objects.filter(action="sso.login_failed").exists()


def test_the_diagnostic_lists_the_checks_up_to_the_one_that_failed(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp, status="draft")
    start_test(web, acme_org, connection)

    response = saml_login(web, saml_idp, connection, user="ada@acme.test", case="expired")

    page = response.content.decode()
    states = re.findall(r'data-state="([a-z ]+)"', page)
    labels = re.findall(r'<span>([^<]+)</span><span class="visually-hidden">', page)
    assert len(states) == len(labels) == 8
    assert states[:3] == ["passed", "passed", "passed"]
    assert states[3] == "failed"
    assert "validity period" in labels[3]
    assert set(states[4:]) == {"not reached"}
