"""A known identity's sign-in: allauth's login uses what admission read (the identity, its
account, the account's memberships) instead of reading it again, and still updates the
identity, maps the role and applies every rule."""

from __future__ import annotations

from urllib.parse import urlsplit

from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.signals import social_account_updated
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from organizations.models import Membership
from tests.sso.conftest import browser, saml_connection, saml_login, saml_start, session_user


def test_the_identity_is_updated_at_every_sign_in(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp)
    assert saml_login(web, saml_idp, connection, user="ada@acme.test", groups="red").status_code
    identity = SocialAccount.objects.get(provider=connection.slug)
    updated = []

    def seen(sender, sociallogin, **kwargs):
        updated.append(sociallogin.account.pk)

    social_account_updated.connect(seen)
    try:
        again = browser()
        saml_login(again, saml_idp, connection, user="ada@acme.test", groups="blue")
    finally:
        social_account_updated.disconnect(seen)

    assert session_user(again) == identity.user
    before = identity.last_login
    identity.refresh_from_db()
    assert identity.extra_data["groups"] == ["blue"]
    assert identity.last_login > before
    assert updated == [identity.pk]


def test_a_known_persons_sign_in_reads_identity_and_memberships_once(saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp, role_mapping={"eng": "admin"})
    saml_login(browser(), saml_idp, connection, user="ada@acme.test", groups="eng")
    client = browser()
    answer = saml_idp.answer(saml_start(client, connection), user="ada@acme.test", groups="eng")
    hop = client.post(urlsplit(answer["acs"]).path, {"SAMLResponse": answer["SAMLResponse"]})

    with CaptureQueriesContext(db) as queries:
        finish = client.get(hop["Location"])

    assert finish.status_code == 302
    assert session_user(client) is not None
    statements = [q["sql"] for q in queries.captured_queries]
    assert sum(s.startswith('SELECT "socialaccount_socialaccount"') for s in statements) == 1
    assert sum(s.startswith('SELECT "organizations_membership"') for s in statements) == 1
    assert not any("FOR UPDATE" in s for s in statements)  # the role is unchanged


def test_a_changed_role_is_still_written(saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp, role_mapping={"eng": "admin"})
    saml_login(browser(), saml_idp, connection, user="ada@acme.test", groups="eng")
    client = browser()

    saml_login(client, saml_idp, connection, user="ada@acme.test", groups="sales")

    user = session_user(client)
    assert Membership.objects.get(organization=acme_org.org, user=user).role == "member"
