"""SSO and the organization's directory, through a real OpenID provider on loopback: a first
SSO sign-in lands in the account the directory linked (by externalId or userName, within
the organization only), a person the directory turned off is refused with a check of its
own, and the directory's group mapping is not undone by the IdP's groups (T7)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from allauth.socialaccount.models import SocialAccount

from accounts.models import User
from organizations.models import Domain, Membership
from sso.models import Connection
from sso.scim.models import Directory
from tests.factories import UserFactory
from tests.scim import records
from tests.scim.conftest import make_directory
from tests.sso.conftest import (  # noqa: F401  (fixtures, asked for by name below)
    Org,
    assert_refused,
    browser,
    make_org,
    oidc_connection,
    oidc_idp,
    oidc_login,
    session_user,
    sso_env,
)
from tests.sso.peers import OidcIdP

# The OpenID provider's "ada-sub" asserts ada@acme.test, groups ["engineering"].
SUBJECT = "ada-sub"


@dataclass
class SsoWorld:
    acme: Org
    idp: OidcIdP
    connection: Connection
    directory: Directory


@pytest.fixture
def sso(request) -> SsoWorld:
    """Acme (acme.test) with an OIDC connection that maps the "engineering" group to admin,
    and its SCIM directory on, for acme.test."""
    request.getfixturevalue("sso_env")
    idp = request.getfixturevalue("oidc_idp")
    acme = make_org("Acme", "acme", "acme.test")
    connection = oidc_connection(
        acme, idp, groups_attribute="groups", role_mapping={"engineering": "admin"}
    )
    domain = Domain.objects.get(organization=acme.org, name="acme.test")
    return SsoWorld(acme, idp, connection, records.directory_for(acme.org, domain))


def sign_in(world: SsoWorld):
    web = browser()
    _, done = oidc_login(web, world.idp, world.connection, login=SUBJECT)
    return web, done


@pytest.mark.parametrize(
    "record",
    [
        {"user_name": "ada.lovelace@acme.test", "external_id": SUBJECT},
        {"user_name": SUBJECT, "work_email": "ada.lovelace@acme.test"},
        {"user_name": "ADA@acme.test", "work_email": "ada.lovelace@acme.test"},
    ],
    ids=["externalId is the subject", "userName is the subject", "userName is the address"],
)
def test_a_first_sign_in_lands_in_the_account_the_directory_linked(sso, record):
    lovelace = UserFactory(email="ada.lovelace@acme.test")
    provisioned = records.provision(sso.directory, record.pop("user_name"), **record)
    assert provisioned.user == lovelace

    web, done = sign_in(sso)

    assert done.status_code == 302, done.content[:800]
    assert session_user(web) == lovelace
    assert SocialAccount.objects.get(provider=sso.connection.slug, uid=SUBJECT).user == lovelace
    # Without the directory, the IdP's address would have made a new account.
    assert not User.objects.filter(email="ada@acme.test").exists()


def test_another_organizations_directory_never_links(sso):
    globex = make_directory("globex", "globex.test")
    kim = records.provision(globex.directory, "kim@globex.test", external_id=SUBJECT).user
    assert kim is not None

    web, done = sign_in(sso)

    assert done.status_code == 302, done.content[:800]
    ada = session_user(web)
    assert ada is not None
    assert ada != kim
    assert ada.email == "ada@acme.test"
    assert not SocialAccount.objects.filter(user=kim).exists()
    assert not Membership.objects.filter(organization=sso.acme.org, user=kim).exists()


def test_a_person_the_directory_turned_off_is_refused_with_its_own_check(sso):
    record = records.provision(sso.directory, "ada@acme.test", external_id=SUBJECT)
    web, _ = sign_in(sso)
    assert session_user(web) == record.user

    records.deactivate(record)
    again, refused = sign_in(sso)

    assert_refused(again, refused, sso.connection, "directory_deactivated")
    assert b"turned off in Acme&#x27;s directory" in refused.content
    assert Membership.objects.get(user=record.user).status == "removed"


def test_an_account_made_owner_since_it_was_linked_is_not_signed_in_by_the_idp(sso):
    lovelace = UserFactory(email="ada.lovelace@acme.test")
    records.provision(sso.directory, "ada.lovelace@acme.test", external_id=SUBJECT)
    Membership.objects.filter(user=lovelace).update(role="owner")

    web, done = sign_in(sso)

    assert_refused(web, done, sso.connection, "privileged_account")
    assert not SocialAccount.objects.filter(user=lovelace).exists()


def test_the_idps_groups_do_not_undo_the_directorys_role_mapping(sso):
    record = records.provision(sso.directory, "ada@acme.test", external_id=SUBJECT)
    everyone = records.group(sso.directory, "Everyone", members=[record])

    # No group of the directory maps a role: the IdP's groups decide, as without SCIM.
    sign_in(sso)
    assert Membership.objects.get(user=record.user).role == "admin"

    records.set_role(everyone, "member")
    assert Membership.objects.get(user=record.user).role == "member"
    web, _ = sign_in(sso)

    assert session_user(web) == record.user
    assert Membership.objects.get(user=record.user).role == "member"


def test_a_connection_never_reaches_an_account_outside_its_domains_through_the_directory(sso):
    # The directory also provisions subsidiary.test, which this connection is not trusted for.
    subsidiary = records.verified_domain(sso.acme.org, "subsidiary.test")
    sso.directory.domains.add(subsidiary)
    cfo = UserFactory(email="cfo@subsidiary.test")
    assert records.provision(sso.directory, SUBJECT, work_email="cfo@subsidiary.test").user == cfo

    web, done = sign_in(sso)

    assert done.status_code == 302, done.content[:800]
    signed_in = session_user(web)
    assert signed_in is not None
    assert signed_in != cfo
    assert signed_in.email == "ada@acme.test"
    assert not SocialAccount.objects.filter(user=cfo).exists()
