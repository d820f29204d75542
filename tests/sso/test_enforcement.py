"""An organization's "SSO only" policy: members in its verified domains cannot sign in by
password or emailed code; everyone else can; the refusal reveals nothing before the
credential is right."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from audit.models import AuditEvent
from organizations import services as org_services
from organizations.models import Membership
from tests.accounts.test_login_code import code_from
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.sso import conftest as idp
from tests.sso.builders import HOST, org_with_domain, saml_connection


@pytest.fixture(autouse=True)
def _sso_host(settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]


@pytest.fixture
def sso_only_org():
    org, owner = org_with_domain("acme", "acme.test")
    saml_connection(org, owner)
    org_services.update_policy(actor=owner, org=org, sso_only=True)
    return org


def member(org, email: str):
    user = UserFactory(email=email)
    Membership.objects.create(organization=org, user=user, role="member", source="admin")
    return user


def password_login(email: str, password: str = DEFAULT_PASSWORD):
    client = Client()
    return client, client.post("/accounts/login/", {"login": email, "password": password})


def test_a_member_in_the_domain_is_sent_to_sso_instead_of_signing_in(sso_only_org):
    ada = member(sso_only_org, "ada@acme.test")
    client, response = password_login(ada.email)
    assert response.status_code == 403
    assert b'id="sso-required"' in response.content
    assert b'name="identifier" value="acme"' in response.content
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action="login.sso_required")
    assert event.organization_id == sso_only_org.pk
    assert event.target_id == str(ada.pk)
    assert not AuditEvent.objects.filter(action="login.succeeded").exists()


def test_a_wrong_password_gets_the_ordinary_answer(sso_only_org):
    ada = member(sso_only_org, "ada@acme.test")
    _client, response = password_login(ada.email, "not-the-password-1")
    assert response.status_code == 200
    assert b"sso-required" not in response.content
    assert not AuditEvent.objects.filter(action="login.sso_required").exists()


def test_emailed_codes_are_refused_too(sso_only_org):
    ada = member(sso_only_org, "ada@acme.test")
    client = Client()
    client.post("/accounts/login/code/", {"email": ada.email})
    response = client.post("/accounts/login/code/confirm/", {"code": code_from(mail.outbox[-1])})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_members_outside_the_domains_and_non_members_still_use_passwords(sso_only_org):
    contractor = member(sso_only_org, "contractor@freelance.test")
    stranger = UserFactory(email="stranger@acme.test")  # in the domain, not a member
    for user in (contractor, stranger):
        client, response = password_login(user.email)
        assert response.status_code == 302, response.content[:300]
        assert client.session["_auth_user_id"] == str(user.pk)


def test_a_removed_member_is_not_bound_by_the_policy(sso_only_org):
    ada = member(sso_only_org, "ada@acme.test")
    Membership.objects.filter(user=ada).update(status="removed")
    _client, response = password_login(ada.email)
    assert response.status_code == 302


def test_without_the_policy_members_sign_in_normally():
    org, owner = org_with_domain("bolt", "bolt.test")
    saml_connection(org, owner)
    ada = member(org, "ada@bolt.test")
    _client, response = password_login(ada.email)
    assert response.status_code == 302


def test_owners_keep_their_password_so_a_broken_idp_cannot_lock_the_org_out(sso_only_org):
    owner = Membership.objects.get(organization=sso_only_org, role="owner").user
    client, response = password_login(owner.email)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)


def test_sso_only_waits_for_an_active_connection():
    org, owner = org_with_domain("bolt", "bolt.test")
    connection = saml_connection(org, owner, active=False)
    org_services.update_policy(actor=owner, org=org, sso_only=True)
    ada = member(org, "ada@bolt.test")
    _client, response = password_login(ada.email)
    assert response.status_code == 302  # nothing to send her to yet
    from sso import services

    services.activate(actor=owner, org=org, connection_id=connection.pk)
    _client, response = password_login(ada.email)
    assert response.status_code == 403


def test_a_method_the_organization_does_not_allow_is_refused(sso_only_org):
    org_services.update_policy(
        actor=Membership.objects.get(organization=sso_only_org, role="owner"),
        org=sso_only_org,
        sso_only=False,
        allowed_login_methods=["code", "sso"],
    )
    ada = member(sso_only_org, "ada@acme.test")
    client, response = password_login(ada.email)
    assert response.status_code == 403
    assert b'id="method-not-allowed"' in response.content
    assert b"emailed code, single sign-on" in response.content
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action="login.method_not_allowed")
    assert event.data == {"method": "password"}
    # The allowed method works.
    client = Client()
    client.post("/accounts/login/code/", {"email": ada.email})
    response = client.post("/accounts/login/code/confirm/", {"code": code_from(mail.outbox[-1])})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(ada.pk)


def test_a_member_bound_by_sso_only_cannot_move_to_an_address_outside_the_org(sso_only_org):
    """However they joined (here: an invitation), a member the org vouches for cannot step out
    of its sign-in rules by changing address."""
    from tests.accounts.test_email_change import ask_for_change, reauthenticate

    owner = Membership.objects.get(organization=sso_only_org, role="owner")
    org_services.update_policy(actor=owner, org=sso_only_org, sso_only=False)
    ada = UserFactory(email="ada@acme.test")
    Membership.objects.create(
        organization=sso_only_org, user=ada, role="member", source="invitation"
    )
    client, _ = password_login(ada.email)
    org_services.update_policy(actor=owner, org=sso_only_org, sso_only=True)
    assert reauthenticate(client).status_code == 302
    mail.outbox.clear()

    refused = ask_for_change(client, "ada@gmail.test")
    allowed = ask_for_change(client, "ada.lovelace@acme.test")

    assert refused.status_code == 200
    assert b"manages how you sign in" in refused.content
    assert allowed.status_code == 302
    assert [m.to for m in mail.outbox] == [["ada.lovelace@acme.test"]]


def test_people_no_organization_binds_change_address_freely():
    from tests.accounts.test_email_change import ask_for_change, reauthenticate

    org, _owner = org_with_domain("bolt", "bolt.test")
    ada = member(org, "ada@bolt.test")  # a member of an org without restrictive rules
    client, _ = password_login(ada.email)
    assert reauthenticate(client).status_code == 302
    assert ask_for_change(client, "ada@gmail.test").status_code == 302


def test_sso_only_cannot_be_escaped_by_changing_the_address(web, saml_idp, acme_org):
    connection = idp.saml_connection(acme_org, saml_idp)
    org_services.update_policy(actor=acme_org.admin, org=acme_org.org, sso_only=True)
    assert idp.saml_login(web, saml_idp, connection, user="ada@acme.test").status_code == 302
    ada = idp.session_user(web)
    assert ada is not None
    # What the change-email flow leaves once the new address is confirmed, then a password set
    # through a reset.
    EmailAddress.objects.filter(user=ada).update(email="ada@gmail.test")
    ada.email = "ada@gmail.test"
    ada.set_password(DEFAULT_PASSWORD)
    ada.save()

    client = Client()
    response = client.post(
        "/accounts/login/", {"login": "ada@gmail.test", "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_sso_only_cannot_be_escaped_by_a_member_who_has_not_used_sso_yet(saml_idp, acme_org):
    idp.saml_connection(acme_org, saml_idp)
    org_services.update_policy(actor=acme_org.admin, org=acme_org.org, sso_only=True)
    # Joined by the verified domain (or by invitation) before SSO-only was switched on.
    ada = UserFactory(email="ada@acme.test")
    Membership.objects.create(organization=acme_org.org, user=ada, role="member", source="domain")
    client = Client()
    refused = client.post("/accounts/login/", {"login": ada.email, "password": DEFAULT_PASSWORD})
    assert refused.status_code == 403  # bound, as expected
    # She changes her address to a personal one (what the change-email flow leaves).
    EmailAddress.objects.filter(user=ada).update(email="ada@gmail.test")
    ada.email = "ada@gmail.test"
    ada.save()

    response = Client().post(
        "/accounts/login/", {"login": "ada@gmail.test", "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 403
