"""Defects two security reviews found in the first SSO build, one test each, against the real
IdPs."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.test import Client
from django.utils import timezone

from accounts.models import User
from organizations import services as org_services
from organizations.models import Membership
from sso import services
from sso.models import IdPCertificate
from sso.portal.pages import certificate_warnings
from tests.accounts.mfa_helpers import enroll_totp
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.sso.conftest import (
    assert_refused,
    browser,
    oidc_connection,
    oidc_login,
    saml_connection,
    saml_login,
    session_user,
)


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
    assert session_user(web).email == "kim@subsidiary.test"


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


def test_sso_only_cannot_be_escaped_by_changing_the_address(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp)
    org_services.update_policy(actor=acme_org.admin, org=acme_org.org, sso_only=True)
    assert saml_login(web, saml_idp, connection, user="ada@acme.test").status_code == 302
    ada = session_user(web)
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
    assert not person.is_blocked and person.has_usable_password()
    assert person.email == "ops@acme.test"


def test_an_expired_idp_certificate_signs_nothing_gatehouse_accepts(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp)
    services.add_certificate(
        actor=acme_org.admin,
        org=acme_org.org,
        connection_id=connection.pk,
        pem=saml_idp.cert("idp2"),
    )
    old = connection.certificates.exclude(subject__contains="idp2").get()
    IdPCertificate.objects.filter(pk=old.pk).update(not_after=timezone.now() - dt.timedelta(days=1))

    response = saml_login(web, saml_idp, connection, user="ada@acme.test")  # signed by the old key

    assert_refused(web, response, connection, "invalid_signature")
    assert not User.objects.filter(email="ada@acme.test").exists()
    response = saml_login(web, saml_idp, connection, user="ada@acme.test", key="idp2")
    assert response.status_code == 302


def test_with_every_certificate_expired_sign_in_is_refused_by_name(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp)
    connection.certificates.update(not_after=timezone.now() - dt.timedelta(days=1))

    response = web.post(f"/accounts/saml/{connection.slug}/login/")

    assert_refused(web, response, connection, "configuration")


def test_no_expiry_email_once_a_successor_certificate_is_in_place(saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp)
    old = connection.certificates.get()
    IdPCertificate.objects.filter(pk=old.pk).update(
        not_after=timezone.now() + dt.timedelta(days=20)
    )
    assert [c.pk for c, _ in services.certificates_to_warn()] == [old.pk]
    services.add_certificate(
        actor=acme_org.admin,
        org=acme_org.org,
        connection_id=connection.pk,
        pem=saml_idp.cert("idp2"),
    )
    connection.refresh_from_db()
    assert certificate_warnings(connection) == []
    assert services.certificates_to_warn() == []


# --- Second review ----------------------------------------------------------------------------

SECOND_STEP = "/accounts/2fa/"


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

    assert response.status_code == 302 and session_user(web) == bob


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


def test_a_confirmation_made_before_the_account_had_a_factor_does_not_skip_it_later(
    web, oidc_idp, acme_org
):
    ada = UserFactory(email="ada@acme.test")  # no second factor yet
    connection = oidc_connection(acme_org, oidc_idp, mfa_trust="idp")
    first = browser()
    _, done = oidc_login(first, oidc_idp, connection, amr="pwd")
    assert done.status_code == 302 and done["Location"] != SECOND_STEP  # nothing to ask
    assert session_user(first) == ada  # the identity is now "confirmed"
    # Ada protects her account with an authenticator app.
    enroll_totp(ada)

    _, done = oidc_login(web, oidc_idp, connection, amr="pwd,mfa")

    # Her own factor has never been presented through this identity: it must be asked.
    assert done["Location"] == SECOND_STEP
    assert session_user(web) is None


def test_single_logout_with_no_current_idp_certificate_is_not_a_500(web, saml_idp, saml):
    saml.certificates.update(not_after=timezone.now() - dt.timedelta(days=1))
    url = saml_idp.logout_request(saml.sp_entity_id, "ada@acme.test")
    parts = urlsplit(url)

    response = web.get(f"{parts.path}?{parts.query}")

    assert 400 <= response.status_code < 500


def test_a_saml_subject_longer_than_an_identity_can_hold_is_refused(web, saml_idp, acme_org):
    from allauth.socialaccount import app_settings

    connection = saml_connection(acme_org, saml_idp, email_attribute="email")
    long_id = "x" * (app_settings.UID_MAX_LENGTH + 20)
    response = saml_login(web, saml_idp, connection, user="ada@acme.test", nameid=long_id)

    # On PostgreSQL SocialAccount.uid is varchar(191): saving it raises DataError, a 500.
    assert_refused(web, response, connection, "subject")


def test_sso_only_cannot_be_escaped_by_a_member_who_has_not_used_sso_yet(saml_idp, acme_org):
    from allauth.account.models import EmailAddress
    from django.test import Client

    from tests.factories import DEFAULT_PASSWORD

    saml_connection(acme_org, saml_idp)
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
