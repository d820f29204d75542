from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.test import Client
from django.utils import timezone

from accounts.models import User
from organizations import services
from organizations.models import Domain, Membership
from tests.accounts.mfa_helpers import enroll_totp, totp_now
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.sso.conftest import ACCOUNTS, CLIENT_ID, CLIENT_SECRET, sso_login


@pytest.fixture
def org(connection, settings):
    owner = UserFactory(email="owner@owner.test")
    org = services.create_organization(actor=owner, name="Acme", slug="acme")
    Domain.objects.create(organization=org, name="acme.test", verification_token="t",
                          verified_at=timezone.now())
    connection["connection_id"] = 1
    connection["extra"] = {"org_slug": "acme", "role_map": {"engineering": "admin"}}
    settings.LAB_OIDC_CONNECTIONS = [connection]
    return org


def logged_in_as(client) -> User | None:
    pk = client.session.get("_auth_user_id")
    return User.objects.get(pk=pk) if pk else None


def test_jit_creates_user_and_membership_with_mapped_role(idp, org):
    client = Client()
    _, done = sso_login(idp, client)
    user = logged_in_as(client)
    assert user and user.email == "alice@acme.test"
    assert EmailAddress.objects.get(user=user).verified
    m = Membership.objects.get(organization=org, user=user)
    assert (m.role, m.source) == ("admin", "sso")
    assert not user.has_usable_password()
    # Role mapping applies at every login.
    idp.set_account("alice-sub", {**ACCOUNTS["alice-sub"], "groups": []})
    client2 = Client()
    sso_login(idp, client2)
    assert logged_in_as(client2) == user
    m.refresh_from_db()
    assert m.role == "member"
    idp.set_account("alice-sub", ACCOUNTS["alice-sub"])


def test_address_outside_the_org_domains_gets_nothing(idp, org):
    client = Client()
    _, done = sso_login(idp, client, login="mallory-sub")
    assert done.status_code == 403
    assert logged_in_as(client) is None
    assert not User.objects.filter(email__endswith="elsewhere.test").exists()
    assert not SocialAccount.objects.exists()


def test_existing_verified_account_is_linked(idp, org):
    alice = UserFactory(email="alice@acme.test")
    client = Client()
    sso_login(idp, client)
    assert logged_in_as(client) == alice
    assert SocialAccount.objects.get(user=alice).uid == "alice-sub"


def test_existing_unverified_account_is_not_merged_into(idp, org):
    squatter = UserFactory(email="alice@acme.test", verified=False)
    client = Client()
    _, done = sso_login(idp, client)
    user = logged_in_as(client)
    assert user is not None and user != squatter, done.content[:400]
    squatter.refresh_from_db()
    assert not squatter.has_usable_password()
    assert user.email == "alice@acme.test"


def test_sso_only_refuses_the_password_but_not_sso(idp, org):
    alice = UserFactory(email="alice@acme.test")
    Membership.objects.create(organization=org, user=alice, role="member", source="admin")
    org.policy.sso_only = True
    org.policy.save()
    client = Client()
    response = client.post("/accounts/login/", {"login": alice.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 403 and logged_in_as(client) is None
    sso_login(idp, client)
    assert logged_in_as(client) == alice


@pytest.mark.parametrize("trust,amr,asked", [(False, "pwd,mfa", True), (True, "pwd", True),
                                              (True, "pwd,mfa", False)])
def test_mfa_after_sso(idp, org, connection, settings, trust, amr, asked):
    alice = UserFactory(email="alice@acme.test")
    device = enroll_totp(alice)
    connection["extra"]["trust_idp_mfa"] = trust
    client = Client()
    _, done = sso_login(idp, client, amr=amr)
    if not asked:
        assert logged_in_as(client) == alice
        return
    assert done["Location"] == "/accounts/2fa/" and logged_in_as(client) is None
    response = client.post("/accounts/2fa/", {"kind": "totp", "code": totp_now(device)})
    assert response.status_code == 302, response.content[:300]
    assert logged_in_as(client) == alice


def test_two_connections_sharing_a_client_id_resume_the_right_one(idp, org, connection, settings):
    # allauth serializes a pending social login's provider as (id, client_id) only.
    other = {**connection, "provider_id": "zz-other", "name": "Other", "server_url": idp.issuer,
             "extra": {"org_slug": "nope"}}
    settings.LAB_OIDC_CONNECTIONS = [other, connection]
    alice = UserFactory(email="alice@acme.test")
    device = enroll_totp(alice)
    client = Client(raise_request_exception=False)
    _, done = sso_login(idp, client)
    assert done["Location"] == "/accounts/2fa/"
    response = client.post("/accounts/2fa/", {"kind": "totp", "code": totp_now(device)})
    print("\nRESUME with shared client_id:", response.status_code)
    assert response.status_code == 302
    assert logged_in_as(client) == alice


def test_replayed_callback_and_cancel(idp, org):
    client = Client()
    start = client.post("/accounts/oidc/acme-oidc/login/")
    back = urlsplit(idp.authorize(start["Location"], "alice-sub"))
    first = client.get(f"{back.path}?{back.query}")
    assert first.status_code == 302
    client.logout()
    again = client.get(f"{back.path}?{back.query}")
    print("\nREPLAY:", again.status_code)
    assert again.status_code == 401 and logged_in_as(client) is None
    bogus = client.get(f"{back.path}?code=x&state=forged")
    assert bogus.status_code == 401
    start = client.post("/accounts/oidc/acme-oidc/login/")
    back = urlsplit(idp.authorize(start["Location"], None))
    cancelled = client.get(f"{back.path}?{back.query}")
    print("CANCEL:", cancelled.status_code, cancelled.get("Location"))
    assert cancelled.status_code in (302, 401) and logged_in_as(client) is None


def test_real_idp_token_checked_against_a_foreign_jwks_is_refused(idp, org, connection):
    from tests.sso.forger import Forger

    forger = Forger(client_id="x").start()
    try:
        connection["openid_configuration_overrides"] = {"jwks_uri": forger.issuer + "/jwks"}
        client = Client(raise_request_exception=False)
        _, done = sso_login(idp, client)
        print("\nFOREIGN JWKS:", done.status_code)
        assert done.status_code == 401 and logged_in_as(client) is None
        assert not User.objects.filter(email="alice@acme.test").exists()
    finally:
        forger.stop()


def test_configured_issuer_must_match_the_discovery_document(idp, org, connection):
    connection["issuer"] = idp.issuer.replace("127.0.0.1", "localhost")
    client = Client(raise_request_exception=False)
    _, done = sso_login(idp, client)
    assert done.status_code == 401 and logged_in_as(client) is None


def test_connection_test_runs_a_real_login_without_a_session(idp, org):
    client = Client()
    start = client.get("/sso/lab-test/acme-oidc/")
    assert start.status_code == 302
    back = urlsplit(idp.authorize(start["Location"], "alice-sub"))
    done = client.get(f"{back.path}?{back.query}")
    assert done.status_code == 200 and b"Connection works" in done.content
    assert b"alice@acme.test" in done.content
    assert logged_in_as(client) is None
    assert not User.objects.filter(email="alice@acme.test").exists()
    assert not SocialAccount.objects.exists()
