"""Whose account an SSO login lands in, one rule at a time, through real IdPs:
JIT inside verified domains only, linking verified accounts, releasing never-verified ones,
identity keyed on (connection, subject), JIT off, removed members, role mapping."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from allauth.usersessions.models import UserSession
from django.contrib.auth.hashers import is_password_usable

from accounts.models import User
from audit.models import AuditEvent
from organizations import services as org_services
from organizations.models import Membership
from sso import services
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.sso.conftest import (
    assert_refused,
    browser,
    configure_accounts,
    forged_login,
    oidc_connection,
    oidc_login,
    saml_connection,
    saml_login,
    session_user,
)


def test_an_address_outside_the_verified_domains_is_refused(web, oidc_idp, oidc):
    _, done = oidc_login(web, oidc_idp, oidc, login="eve-sub")  # eve@elsewhere.test

    assert_refused(web, done, oidc, "email_domain")
    assert not User.objects.filter(email="eve@elsewhere.test").exists()
    assert not SocialAccount.objects.exists()
    assert not Membership.objects.filter(source="sso").exists()


def test_an_address_in_an_unverified_domain_of_the_org_is_refused(web, saml_idp, acme_org):
    from organizations.models import Domain

    Domain.objects.create(organization=acme_org.org, name="pending.test", verification_token="t")
    connection = saml_connection(acme_org, saml_idp)

    response = saml_login(web, saml_idp, connection, user="ada@pending.test")

    assert_refused(web, response, connection, "email_domain")
    assert not User.objects.filter(email="ada@pending.test").exists()


def test_an_account_with_the_same_verified_address_is_linked(web, oidc_idp, oidc, acme_org):
    ada = UserFactory(email="ada@acme.test")

    _, done = oidc_login(web, oidc_idp, oidc)

    assert done.status_code == 302, done.content[:1000]
    assert session_user(web) == ada
    assert User.objects.filter(email__iexact="ada@acme.test").count() == 1
    assert SocialAccount.objects.get(provider=oidc.slug, uid="ada-sub").user == ada
    assert Membership.objects.get(organization=acme_org.org, user=ada).source == "sso"
    assert AuditEvent.objects.filter(action="sso.identity_linked", actor=ada).exists()
    ada.refresh_from_db()
    assert ada.has_usable_password()  # linking takes nothing away from the account


def test_an_account_that_never_verified_the_address_is_released_not_merged(web, oidc_idp, oidc):
    squatter = UserFactory(email="ada@acme.test", verified=False)
    squatter_browser = browser()
    squatter_browser.force_login(squatter)
    UserSession.objects.create(
        user=squatter, session_key=squatter_browser.session.session_key, ip="127.0.0.1"
    )

    _, done = oidc_login(web, oidc_idp, oidc)

    assert done.status_code == 302, done.content[:1000]
    ada = session_user(web)
    assert ada is not None
    assert ada != squatter
    assert ada.email == "ada@acme.test"
    assert SocialAccount.objects.get(provider=oidc.slug).user == ada
    squatter.refresh_from_db()
    assert not is_password_usable(squatter.password)
    assert squatter.is_blocked
    assert squatter.email != "ada@acme.test"
    assert not EmailAddress.objects.filter(user=squatter).exists()
    assert session_user(squatter_browser) is None
    assert not UserSession.objects.filter(user=squatter).exists()
    assert AuditEvent.objects.filter(action="sso.unverified_account_released").exists()
    # The squatter's password no longer opens anything.
    thief = browser()
    attempt = thief.post(
        "/accounts/login/", {"login": "ada@acme.test", "password": DEFAULT_PASSWORD}
    )
    assert attempt.status_code == 200
    assert session_user(thief) is None


def test_the_identity_is_the_subject_not_the_address(web, oidc_idp, oidc):
    oidc_idp.set_account("kim-sub", {"email": "kim@acme.test"})
    oidc_login(web, oidc_idp, oidc, login="kim-sub")
    kim = session_user(web)
    assert kim is not None

    oidc_idp.set_account("kim-sub", {"email": "kim.renamed@acme.test"})
    again = browser()
    _, done = oidc_login(again, oidc_idp, oidc, login="kim-sub")

    assert done.status_code == 302
    assert session_user(again) == kim
    assert User.objects.filter(email__startswith="kim").count() == 1
    assert SocialAccount.objects.filter(provider=oidc.slug).count() == 1


def test_the_same_address_from_another_subject_is_not_the_same_identity(web, saml_idp, acme_org):
    # The NameID is the subject; the address comes from the "email" attribute.
    connection = saml_connection(acme_org, saml_idp, email_attribute="email")
    saml_login(web, saml_idp, connection, user="ada@acme.test", nameid="ada-1")
    ada = session_user(web)
    assert ada is not None
    assert ada.display_name == "Ada Lovelace"

    other = browser()
    response = saml_login(other, saml_idp, connection, user="ada@acme.test", nameid="ada-2")

    # Her address is verified, so the new identity is linked to her account, not a second one.
    assert response.status_code == 302
    assert session_user(other) == ada
    assert set(SocialAccount.objects.values_list("uid", flat=True)) == {"ada-1", "ada-2"}


def test_with_jit_off_unknown_people_are_refused(web, oidc_idp, acme_org):
    connection = oidc_connection(acme_org, oidc_idp, jit_enabled=False)

    _, done = oidc_login(web, oidc_idp, connection)

    assert_refused(web, done, connection, "jit_disabled")
    assert not User.objects.filter(email="ada@acme.test").exists()
    assert not SocialAccount.objects.exists()


def test_with_jit_off_existing_members_still_sign_in(web, oidc_idp, acme_org):
    connection = oidc_connection(acme_org, oidc_idp, jit_enabled=False)
    ada = UserFactory(email="ada@acme.test")
    Membership.objects.create(organization=acme_org.org, user=ada, role="member", source="admin")

    _, done = oidc_login(web, oidc_idp, connection)

    assert done.status_code == 302, done.content[:800]
    assert session_user(web) == ada


def test_a_removed_member_is_refused(web, oidc_idp, oidc, acme_org):
    oidc_login(web, oidc_idp, oidc)
    ada = User.objects.get(email="ada@acme.test")
    membership = Membership.objects.get(organization=acme_org.org, user=ada)
    org_services.remove_member(actor=acme_org.admin, org=acme_org.org, member_id=membership.pk)

    again = browser()
    _, done = oidc_login(again, oidc_idp, oidc)

    assert_refused(again, done, oidc, "membership_removed")
    membership.refresh_from_db()
    assert membership.status == "removed"


def test_a_removed_member_with_a_verified_account_is_not_linked_back_in(
    web, saml_idp, saml, acme_org
):
    ada = UserFactory(email="ada@acme.test")
    membership = Membership.objects.create(
        organization=acme_org.org, user=ada, role="member", source="admin"
    )
    org_services.remove_member(actor=acme_org.admin, org=acme_org.org, member_id=membership.pk)

    response = saml_login(web, saml_idp, saml, user="ada@acme.test")

    assert_refused(web, response, saml, "membership_removed")
    assert not SocialAccount.objects.exists()


def test_role_mapping_runs_at_every_login_and_never_demotes_an_owner(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp, role_mapping={"it-admins": "admin"})
    saml_login(web, saml_idp, connection, user="ada@acme.test", groups="it-admins,staff")
    ada = User.objects.get(email="ada@acme.test")
    assert Membership.objects.get(user=ada).role == "admin"

    second = browser()
    saml_login(second, saml_idp, connection, user="ada@acme.test", groups="staff")
    assert session_user(second) == ada
    assert Membership.objects.get(user=ada).role == "member"

    boss = UserFactory(email="boss@acme.test")
    Membership.objects.create(organization=acme_org.org, user=boss, role="owner", source="admin")
    saml_login(browser(), saml_idp, connection, user="boss@acme.test", groups="staff")
    assert Membership.objects.get(user=boss).role == "owner"


def test_the_default_role_applies_without_a_matching_group(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp)
    configure_accounts(acme_org, connection, default_role="admin")

    saml_login(web, saml_idp, connection, user="ada@acme.test")

    assert Membership.objects.get(user__email="ada@acme.test").role == "admin"


def test_an_sso_only_organization_lets_sso_in_and_keeps_passwords_out(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp)
    ada = UserFactory(email="ada@acme.test")
    Membership.objects.create(organization=acme_org.org, user=ada, role="member", source="admin")
    org_services.update_policy(actor=acme_org.admin, org=acme_org.org, sso_only=True)

    by_password = browser()
    refused = by_password.post(
        "/accounts/login/", {"login": "ada@acme.test", "password": DEFAULT_PASSWORD}
    )
    assert refused.status_code == 403
    assert session_user(by_password) is None

    response = saml_login(web, saml_idp, connection, user="ada@acme.test")
    assert response.status_code == 302, response.content[:500]
    assert session_user(web) == ada


def test_a_blocked_account_is_refused_before_anything_is_linked(web, oidc_idp, oidc):
    ada = UserFactory(email="ada@acme.test")
    User.objects.filter(pk=ada.pk).update(is_blocked=True)

    _, done = oidc_login(web, oidc_idp, oidc)

    assert_refused(web, done, oidc, "account_blocked")
    assert not SocialAccount.objects.exists()
    assert not Membership.objects.filter(user=ada).exists()


def test_a_squatters_removed_membership_does_not_refuse_the_real_person(
    web, oidc_idp, oidc, acme_org
):
    squatter = UserFactory(email="ada@acme.test", verified=False)
    membership = Membership.objects.create(
        organization=acme_org.org, user=squatter, role="member", source="admin"
    )
    org_services.remove_member(actor=acme_org.admin, org=acme_org.org, member_id=membership.pk)

    _, done = oidc_login(web, oidc_idp, oidc)

    assert done.status_code == 302, done.content[:800]
    ada = session_user(web)
    assert ada is not None
    assert ada != squatter
    assert Membership.objects.get(organization=acme_org.org, user=ada).is_active


def test_a_pending_email_change_to_the_address_does_not_block_the_real_person(web, oidc_idp, oidc):
    bob = UserFactory(email="bob@elsewhere.test")
    EmailAddress.objects.create(user=bob, email="ada@acme.test", verified=False, primary=False)

    _, done = oidc_login(web, oidc_idp, oidc)

    assert done.status_code == 302, done.content[:800]
    ada = session_user(web)
    assert ada is not None
    assert ada != bob
    assert ada.email == "ada@acme.test"
    assert not EmailAddress.objects.filter(user=bob, email="ada@acme.test").exists()
    bob.refresh_from_db()
    assert bob.has_usable_password()
    assert not bob.is_blocked


def test_an_address_proven_on_another_login_address_is_linked_to_that_account(web, oidc_idp, oidc):
    bob = UserFactory(email="bob@elsewhere.test")
    EmailAddress.objects.create(user=bob, email="ada@acme.test", verified=True, primary=False)

    _, done = oidc_login(web, oidc_idp, oidc)

    assert done.status_code == 302, done.content[:800]
    assert session_user(web) == bob
    assert User.objects.count() == 2  # bob and the org's owner: nobody new


def test_an_oidc_connection_can_read_the_address_from_another_claim(web, forger, acme_org):
    connection = oidc_connection(acme_org, forger)
    services.update_oidc(
        actor=acme_org.admin,
        org=acme_org.org,
        connection_id=connection.pk,
        name=connection.name,
        discovery_url=connection.discovery_url,
        client_id=connection.client_id,
        email_attribute="upn",
    )
    # The IdP's "email" is a personal address; the work address comes in "upn".
    forger.reset(sub="entra-ada", email="ada.private@elsewhere.test", upn="ada@acme.test")

    _, done = forged_login(web, forger, connection)

    assert done.status_code == 302, done.content[:500]
    user = session_user(web)
    assert user is not None
    assert user.email == "ada@acme.test"


def test_a_connection_is_trusted_only_for_the_domains_it_serves(web, saml_idp, acme_org):
    sub = acme_org.domain("subsidiary.test")
    connection = saml_connection(acme_org, saml_idp, domain_ids=[sub.pk])
    ceo = UserFactory(email="ceo@acme.test")  # verified, in the org's other domain

    response = saml_login(web, saml_idp, connection, user="ceo@acme.test")

    assert_refused(web, response, connection, "email_domain")
    assert not SocialAccount.objects.filter(user=ceo).exists()
    # Its own domain still works.
    response = saml_login(web, saml_idp, connection, user="kim@subsidiary.test")
    assert response.status_code == 302
    kim = session_user(web)
    assert kim is not None
    assert kim.email == "kim@subsidiary.test"


def test_an_admin_cannot_take_over_the_owner_through_a_connection_they_control(
    web, saml_idp, acme_org
):
    owner = UserFactory(email="boss@acme.test")
    Membership.objects.create(organization=acme_org.org, user=owner, role="owner", source="admin")
    mallory = UserFactory(email="mallory@elsewhere.test")
    acme_org.admin = Membership.objects.create(
        organization=acme_org.org, user=mallory, role="admin", source="admin"
    )
    connection = saml_connection(acme_org, saml_idp, name="Mallory's IdP")

    response = saml_login(web, saml_idp, connection, user="boss@acme.test")

    assert_refused(web, response, connection, "privileged_account")
    assert not SocialAccount.objects.filter(user=owner).exists()


def test_staff_are_never_linked_automatically(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp)
    staff = UserFactory(email="ops@acme.test", is_staff=True)

    response = saml_login(web, saml_idp, connection, user=staff.email)

    assert_refused(web, response, connection, "privileged_account")
    assert not SocialAccount.objects.filter(user=staff).exists()


def test_a_login_refused_by_another_orgs_policy_writes_nothing(web, saml_idp, acme_org, beta_org):
    bob = UserFactory(email="bob@beta.test")
    EmailAddress.objects.create(user=bob, email="bob@acme.test", verified=True, primary=False)
    Membership.objects.create(organization=beta_org.org, user=bob, role="member", source="admin")
    saml_connection(beta_org, saml_idp, name="Beta IdP")
    org_services.update_policy(actor=beta_org.admin, org=beta_org.org, sso_only=True)
    acme = saml_connection(acme_org, saml_idp)

    response = saml_login(web, saml_idp, acme, user="bob@acme.test")

    assert_refused(web, response, acme, "sign_in_policy")
    assert not SocialAccount.objects.filter(user=bob).exists()
    assert not Membership.objects.filter(user=bob, organization=acme_org.org).exists()


def test_an_account_made_outside_allauth_is_not_released_by_an_org_idp(web, saml_idp, acme_org):
    # createsuperuser and scripts write no EmailAddress row; such an account is not a squatter.
    person = User.objects.create_user(email="ops@acme.test", password="a long password 123")
    connection = saml_connection(acme_org, saml_idp)

    response = saml_login(web, saml_idp, connection, user="ops@acme.test")

    assert_refused(web, response, connection, "account_conflict")
    person.refresh_from_db()
    assert not person.is_blocked
    assert person.has_usable_password()
    assert person.email == "ops@acme.test"


def test_an_identity_linked_before_staff_rights_does_not_sign_in_staff(web, saml_idp, acme_org):
    bob = UserFactory(email="bob@acme.test")
    connection = saml_connection(acme_org, saml_idp)
    assert saml_login(browser(), saml_idp, connection, user="bob@acme.test").status_code == 302
    User.objects.filter(pk=bob.pk).update(is_staff=True)

    response = saml_login(web, saml_idp, connection, user="bob@acme.test")

    assert_refused(web, response, connection, "privileged_account")


def test_an_owner_of_another_organization_still_signs_in_through_their_employers_idp(
    web, saml_idp, acme_org
):
    """Decision: roles elsewhere are no privilege over the employer's domain (its mail server
    already controls the address); refusing them would lock side-project owners out."""
    bob = UserFactory(email="bob@acme.test")
    connection = saml_connection(acme_org, saml_idp)
    assert saml_login(browser(), saml_idp, connection, user="bob@acme.test").status_code == 302
    org_services.create_organization(actor=bob, name="Bob's side project", slug="bob-side")

    response = saml_login(web, saml_idp, connection, user="bob@acme.test")

    assert response.status_code == 302
    assert session_user(web) == bob


def test_an_identity_linked_before_ownership_transfer_does_not_sign_in_the_owner(
    web, saml_idp, acme_org
):
    bob = UserFactory(email="bob@acme.test")
    bob_m = Membership.objects.create(
        organization=acme_org.org, user=bob, role="member", source="admin"
    )
    connection = saml_connection(acme_org, saml_idp, name="Mallory's IdP")
    assert saml_login(browser(), saml_idp, connection, user="bob@acme.test").status_code == 302
    org_services.transfer_ownership(actor=acme_org.admin, org=acme_org.org, member_id=bob_m.pk)

    response = saml_login(web, saml_idp, connection, user="bob@acme.test")

    assert_refused(web, response, connection, "privileged_account")
