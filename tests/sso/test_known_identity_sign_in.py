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
from sso.services import logins
from tests.factories import UserFactory
from tests.sso.conftest import (
    assert_refused,
    browser,
    saml_connection,
    saml_login,
    saml_start,
    session_user,
)


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
    # The role is unchanged: no membership is locked to be written. (The new-sign-in email this
    # second browser gets locks its own outbox row to send it, as every email does.)
    assert not any("FOR UPDATE" in s and "organizations_membership" in s for s in statements)


def test_a_changed_role_is_still_written(saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp, role_mapping={"eng": "admin"})
    saml_login(browser(), saml_idp, connection, user="ada@acme.test", groups="eng")
    client = browser()

    saml_login(client, saml_idp, connection, user="ada@acme.test", groups="sales")

    user = session_user(client)
    assert Membership.objects.get(organization=acme_org.org, user=user).role == "member"


def identity_changes_after_admission(monkeypatch, change) -> None:
    """Run ``change(identity_query)`` after admission has read the identity and before allauth's
    login uses it: another request committing in between (a disconnect, an erasure)."""
    carry = logins.carry_admission

    def carry_then_change(login):
        carry(login)
        change(SocialAccount.objects.filter(provider=login.account.provider, uid=login.account.uid))

    monkeypatch.setattr(logins, "carry_admission", carry_then_change)


def test_an_identity_removed_after_admission_is_neither_signed_in_nor_written_back(
    saml_idp, acme_org, monkeypatch
):
    connection = saml_connection(acme_org, saml_idp)
    assert saml_login(browser(), saml_idp, connection, user="ada@acme.test").status_code == 302
    identity_changes_after_admission(monkeypatch, lambda identity: identity.delete())

    client = browser()
    response = saml_login(client, saml_idp, connection, user="ada@acme.test")

    assert_refused(client, response, connection, "identity_gone")
    assert response.status_code == 409
    assert not SocialAccount.objects.filter(provider=connection.slug).exists()


def test_an_identity_moved_after_admission_signs_in_neither_account(
    saml_idp, acme_org, monkeypatch
):
    connection = saml_connection(acme_org, saml_idp)
    assert saml_login(browser(), saml_idp, connection, user="ada@acme.test").status_code == 302
    other = UserFactory(email="mallory@elsewhere.test")
    identity_changes_after_admission(monkeypatch, lambda identity: identity.update(user=other))

    client = browser()
    response = saml_login(client, saml_idp, connection, user="ada@acme.test")

    assert_refused(client, response, connection, "identity_gone")
    assert SocialAccount.objects.get(provider=connection.slug).user_id == other.pk
