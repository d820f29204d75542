"""A signed SAML response must name the person once. An email (or name) attribute sent twice,
or with two values, leaves the choice of account to whoever ordered the values; Gatehouse
refuses it by name (``identity_attribute_repeated``) instead of taking the first value.
Attributes Gatehouse reads as lists (groups) may carry several values, as IdPs send them.

The responses are samlify's, signed with the IdP's key (tests/sso/idp/saml_idp.js:
``repeat_attribute`` adds a second <Attribute> with the same Name, ``second_value`` a second
<AttributeValue>; either comes first, where a "first value wins" reader looks).
"""

from __future__ import annotations

import re

import pytest
from allauth.socialaccount.models import SocialAccount

from accounts.models import User
from audit.models import AuditEvent
from organizations.models import Membership
from tests.factories import UserFactory
from tests.sso.conftest import assert_refused, saml_connection, saml_login, session_user
from tests.sso.test_connection_test import assert_nothing_created, diagnostics, start_test

CHECK = "identity_attribute_repeated"

# How the IdP makes the response ambiguous (saml_idp.js query parameters).
AMBIGUOUS = {
    "email_attribute_twice": {"repeat_attribute": "email"},
    "email_with_two_values": {"second_value": "email"},
    "last_name_with_two_values": {"second_value": "last_name", "other": "Mallory"},
}


@pytest.fixture
def by_email_attribute(acme_org, saml_idp):
    """A connection that takes the address from the ``email`` attribute (not the NameID)."""
    return saml_connection(acme_org, saml_idp, email_attribute="email")


@pytest.mark.parametrize("case", list(AMBIGUOUS))
def test_a_repeated_identity_attribute_is_refused_and_links_nothing(
    case, web, saml_idp, by_email_attribute
):
    # The address the attacker puts first belongs to someone with a verified account: a
    # "first value wins" reader would link this IdP identity to it and sign in as them.
    victim = UserFactory(email="mallory@acme.test")

    response = saml_login(
        web, saml_idp, by_email_attribute, user="ada@acme.test", **AMBIGUOUS[case]
    )

    assert_refused(web, response, by_email_attribute, CHECK)
    assert response.status_code == 403
    assert CHECK.encode() in response.content
    assert not SocialAccount.objects.exists()
    assert not User.objects.filter(email="ada@acme.test").exists()
    assert not Membership.objects.filter(user=victim).exists()
    event = AuditEvent.objects.get(action="sso.login_failed")
    assert event.outcome == "failure"
    assert event.data["check"] == CHECK
    assert event.data["connection"] == by_email_attribute.slug
    repeated = AMBIGUOUS[case].get("repeat_attribute") or AMBIGUOUS[case]["second_value"]
    assert repeated in event.data["reason"]


def test_the_same_response_without_the_repeat_signs_in(web, saml_idp, by_email_attribute):
    UserFactory(email="mallory@acme.test")

    response = saml_login(web, saml_idp, by_email_attribute, user="ada@acme.test")

    assert response.status_code == 302, response.content[:1000]
    assert session_user(web) == User.objects.get(email="ada@acme.test")


def test_groups_with_several_values_still_sign_in(web, saml_idp, acme_org):
    connection = saml_connection(
        acme_org,
        saml_idp,
        email_attribute="email",
        groups_attribute="groups",
        role_mapping={"engineering": "admin"},
    )

    response = saml_login(
        web,
        saml_idp,
        connection,
        user="ada@acme.test",
        groups="staff,engineering",
        # ...and in a second <Attribute> element too, as some IdPs split long lists.
        repeat_attribute="groups",
        other="operations",
    )

    assert response.status_code == 302, response.content[:1000]
    ada = User.objects.get(email="ada@acme.test")
    assert session_user(web) == ada
    membership = Membership.objects.get(organization=acme_org.org, user=ada)
    assert membership.role == "admin"
    assert not AuditEvent.objects.filter(action="sso.login_failed").exists()


def test_an_attribute_the_connection_does_not_read_may_repeat(web, saml_idp, saml):
    # This connection takes the address from the NameID: its "email" attribute identifies
    # nobody, so sending it twice changes nothing.
    response = saml_login(web, saml_idp, saml, user="ada@acme.test", repeat_attribute="email")

    assert response.status_code == 302, response.content[:1000]
    assert session_user(web) == User.objects.get(email="ada@acme.test")


def test_connection_test_names_the_repeated_attribute(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp, status="draft", email_attribute="email")
    start_test(web, acme_org, connection)

    response = saml_login(web, saml_idp, connection, user="ada@acme.test", second_value="email")

    assert response.status_code == 200, response.content[:1000]
    page = response.content.decode()
    assert 'id="sso-test-failed"' in page
    assert f'<code id="sso-test-check">{CHECK}</code>' in page
    states = re.findall(r'data-state="([a-z ]+)"', page)
    labels = re.findall(r'<span>([^<]+)</span><span class="visually-hidden">', page)
    failed = states.index("failed")
    assert "once" in labels[failed]
    assert "attribute" in labels[failed]
    assert set(states[:failed]) == {"passed"}
    assert set(states[failed + 1 :]) == {"not reached"}
    # What the IdP sent, both values, so the IT admin sees what to fix.
    assert "mallory@acme.test, ada@acme.test" in page
    assert_nothing_created(web, acme_org)
    assert diagnostics(connection)[-1]["check"] == CHECK
    assert diagnostics(connection)[-1]["outcome"] == "failure"
