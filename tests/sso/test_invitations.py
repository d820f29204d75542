"""Invitations meet the organization's sign-in rules: someone invited at an address the
organization vouches for (one of its verified domains) joins through its SSO when it is
"SSO only", never by creating a password the organization has ruled out; an invitation is
also how someone new gets in through SSO when just-in-time accounts are off."""

from __future__ import annotations

import re

from django.core import mail

from accounts.models import User
from audit.models import AuditEvent
from organizations import services as org_services
from organizations.models import Invitation, LoginMethod, Membership
from tests.sso.conftest import (
    browser,
    saml_connection,
    saml_post,
    session_user,
)

ACCEPT = "/invitations/accept/"
PASSWORD = "a fresh passphrase for Ada 9"


def invite(org, email: str, role: str = "member") -> str:
    """The owner invites ``email`` from the portal; returns the emailed link's path."""
    owner = browser()
    owner.force_login(org.owner)
    response = owner.post(f"/orgs/{org.org.slug}/invitations/", {"email": email, "role": role})
    assert response.status_code == 302, response.content[:500]
    match = re.search(r"https?://[^/\s]+(/invitations/[^/\s]+/)", str(mail.outbox[-1].body))
    assert match, mail.outbox[-1].body
    return match.group(1)


def open_invitation(client, link: str):
    assert client.get(link)["Location"] == ACCEPT
    return client.get(ACCEPT)


def sso_only(org) -> None:
    org_services.update_policy(actor=org.admin, org=org.org, sso_only=True)


def test_an_invitee_of_an_sso_only_org_is_sent_to_sso_not_offered_a_password(
    web, saml_idp, acme_org
):
    saml_connection(acme_org, saml_idp)
    sso_only(acme_org)
    link = invite(acme_org, "ada@acme.test")

    page = open_invitation(web, link)
    assert page.status_code == 200
    assert b'id="continue-with-sso"' in page.content
    assert b'name="password1"' not in page.content

    # Posting a password anyway (an old tab, a script) creates nothing.
    refused = web.post(ACCEPT, {"password1": PASSWORD})
    assert refused.status_code == 403
    assert not User.objects.filter(email__iexact="ada@acme.test").exists()
    assert session_user(web) is None
    assert Invitation.objects.get(email="ada@acme.test").accepted_at is None
    event = AuditEvent.objects.get(action="login.sso_required")
    assert event.organization_id == acme_org.org.pk
    assert event.data == {"method": "password", "via": "invitation"}


def test_the_invitee_joins_through_sso_and_comes_back_to_accept(web, saml_idp, acme_org):
    saml_connection(acme_org, saml_idp)
    sso_only(acme_org)
    link = invite(acme_org, "ada@acme.test", role="admin")
    open_invitation(web, link)

    # The page's "Continue with SSO" form: home-realm discovery by the org's slug, back here.
    to_idp = web.post("/sso/", {"identifier": "acme", "next": ACCEPT})
    assert to_idp.status_code == 302, to_idp.content[:500]
    landed = saml_post(web, saml_idp.answer(to_idp["Location"], user="ada@acme.test"))
    assert landed.status_code == 302, landed.content[:500]
    assert landed["Location"] == ACCEPT, landed.content[:500]
    ada = session_user(web)
    assert ada is not None
    assert ada.email == "ada@acme.test"
    assert not ada.has_usable_password()

    accepted = web.post(ACCEPT)
    assert accepted.status_code == 302
    assert accepted["Location"] == "/orgs/acme/"
    assert Invitation.objects.get(email="ada@acme.test").accepted_by == ada
    assert Membership.objects.get(organization=acme_org.org, user=ada).is_active


def test_an_invitee_outside_the_verified_domains_still_signs_up_with_a_password(
    web, saml_idp, acme_org
):
    saml_connection(acme_org, saml_idp)
    sso_only(acme_org)
    link = invite(acme_org, "contractor@freelance.test")

    page = open_invitation(web, link)
    assert b'name="password1"' in page.content
    joined = web.post(ACCEPT, {"password1": PASSWORD})
    assert joined.status_code == 302, joined.content[:500]
    contractor = session_user(web)
    assert contractor is not None
    assert contractor.email == "contractor@freelance.test"


def test_an_invited_owner_is_exempt_as_owners_are_at_login(web, saml_idp, acme_org):
    saml_connection(acme_org, saml_idp)
    sso_only(acme_org)
    link = invite(acme_org, "second-owner@acme.test", role="owner")

    open_invitation(web, link)
    joined = web.post(ACCEPT, {"password1": PASSWORD})
    assert joined.status_code == 302, joined.content[:500]
    owner = session_user(web)
    assert owner is not None
    assert owner.email == "second-owner@acme.test"


def test_an_org_that_allows_no_passwords_creates_no_password_account(web, acme_org):
    org_services.update_policy(
        actor=acme_org.admin,
        org=acme_org.org,
        allowed_login_methods=[LoginMethod.PASSKEY, LoginMethod.SSO],
    )
    link = invite(acme_org, "ada@acme.test")

    page = open_invitation(web, link)
    assert b'id="invitation-method-refused"' in page.content
    assert b'name="password1"' not in page.content
    refused = web.post(ACCEPT, {"password1": PASSWORD})
    assert refused.status_code == 403
    assert not User.objects.filter(email__iexact="ada@acme.test").exists()
    assert AuditEvent.objects.filter(action="login.method_not_allowed").exists()


def test_with_jit_off_an_open_invitation_lets_the_invitee_in_through_sso(web, saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp, jit_enabled=False)
    invite(acme_org, "ada@acme.test")

    to_idp = web.post("/sso/", {"identifier": "ada@acme.test", "next": ACCEPT})
    landed = saml_post(web, saml_idp.answer(to_idp["Location"], user="ada@acme.test"))

    assert landed.status_code == 302, landed.content[:500]
    ada = session_user(web)
    assert ada is not None
    assert ada.email == "ada@acme.test"
    # Someone else at the domain, with no invitation, is still refused.
    other = browser()
    to_idp = other.post("/sso/", {"identifier": "bob@acme.test"})
    refused = saml_post(other, saml_idp.answer(to_idp["Location"], user="bob@acme.test"))
    assert refused.status_code == 403
    assert session_user(other) is None
    assert not User.objects.filter(email="bob@acme.test").exists()
    assert AuditEvent.objects.filter(
        action="sso.login_failed", data__connection=connection.slug, data__check="jit_disabled"
    ).exists()
