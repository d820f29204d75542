"""Whether a directory's user becomes an account with a membership: the rules SSO's
just-in-time accounts follow, applied to SCIM records (docs/scim.md 4.5), within one
organization only."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.core import mail

from accounts.models import User
from audit.models import AuditEvent
from organizations import services as org_services
from organizations.models import Domain, Membership, Organization
from sso.scim.models import LinkState
from tests.factories import UserFactory
from tests.scim import records


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("occurred_at", "pk"))


def member(org: Organization, user: User) -> Membership | None:
    return Membership.objects.filter(organization=org, user=user).first()


def test_a_new_address_in_the_domains_gets_a_verified_account_and_no_email(scim):
    kim = records.provision(scim.directory, "Kim@Acme.test", display_name="Kim Jones")

    account = User.objects.get(email="kim@acme.test")
    assert kim.user == account
    assert kim.link_state == LinkState.LINKED
    assert account.display_name == "Kim Jones"
    assert not account.has_usable_password()
    assert EmailAddress.objects.get(user=account).verified
    assert mail.outbox == []
    membership = member(scim.org, account)
    assert membership is not None
    assert (membership.status, membership.role, membership.source) == ("active", "member", "scim")
    [linked] = events("scim.user_linked")
    assert linked.actor_text == f"scim:{scim.directory.public_id}"
    assert linked.data == {"account": "created", "role": "member"}
    [joined] = events("org.member_joined")
    assert joined.actor_text == linked.actor_text


def test_an_account_that_proved_the_address_is_linked_not_duplicated(scim):
    ada = UserFactory(email="ada@personal.example")
    EmailAddress.objects.create(user=ada, email="ada@acme.test", verified=True)

    record = records.provision(scim.directory, "ada-1", work_email="ADA@acme.test")

    assert record.user == ada
    assert User.objects.filter(email__iexact="ada@acme.test").count() == 0
    assert member(scim.org, ada) is not None
    ada.refresh_from_db()
    assert ada.has_usable_password()  # linking takes nothing away from the account
    assert events("scim.user_linked")[0].data["account"] == "existing"


def test_the_work_email_counts_before_the_user_name(scim):
    record = records.provision(scim.directory, "kim@acme.test", work_email="kim@elsewhere.example")

    assert record.user is None
    assert record.link_state == LinkState.OUTSIDE_DOMAINS
    assert not User.objects.exists()


def test_addresses_outside_the_directorys_verified_domains_get_no_account(scim):
    pending = Domain.objects.create(
        organization=scim.org, name="pending.test", verification_token="t"
    )
    scim.directory.domains.add(pending)  # the org's own domain, but not verified
    records.verified_domain(scim.org, "branch.test")  # verified, not the directory's

    outside = [
        records.provision(scim.directory, "eve@elsewhere.example"),
        records.provision(scim.directory, "pat@pending.test"),
        records.provision(scim.directory, "lee@branch.test"),
        records.provision(scim.directory, "no-address-at-all"),
        # userNames that end in the domain but are no address of it
        records.provision(scim.directory, "x@evil.example@acme.test"),
        records.provision(scim.directory, "@acme.test"),
        records.provision(scim.directory, "a b <c>@acme.test"),
    ]

    assert {r.link_state for r in outside} == {LinkState.OUTSIDE_DOMAINS}
    assert not User.objects.exists()
    assert not Membership.objects.exists()
    assert [e.data for e in events("scim.user_not_admitted")] == [{"reason": "outside_domains"}] * 7


def test_a_record_outside_the_domains_is_admitted_once_its_address_moves_inside(scim):
    record = records.provision(scim.directory, "kim", work_email="kim@elsewhere.example")
    records.update(record, display_name="Kim")  # the same again: no second audit event
    assert len(events("scim.user_not_admitted")) == 1

    record = records.update(record, work_email="kim@acme.test")

    assert record.link_state == LinkState.LINKED
    assert record.user is not None
    assert record.user.email == "kim@acme.test"


def test_the_orgs_owners_and_staff_are_never_linked(scim):
    boss = UserFactory(email="boss@acme.test")
    Membership.objects.create(organization=scim.org, user=boss, role="owner")
    support = UserFactory(email="support@acme.test", is_staff=True)

    for address in ("boss@acme.test", "support@acme.test"):
        record = records.provision(scim.directory, address)
        assert record.user is None
        assert record.link_state == LinkState.PRIVILEGED
    assert member(scim.org, boss).role == "owner"  # type: ignore[union-attr]
    assert member(scim.org, support) is None
    assert {e.data["reason"] for e in events("scim.user_not_admitted")} == {"privileged"}


def test_a_never_verified_account_is_released_not_merged(scim):
    squatter = UserFactory(email="ada@acme.test", verified=False)

    record = records.provision(scim.directory, "ada@acme.test")

    ada = record.user
    assert ada is not None
    assert ada != squatter
    assert ada.email == "ada@acme.test"
    squatter.refresh_from_db()
    assert squatter.is_blocked
    assert not squatter.has_usable_password()
    assert squatter.email != "ada@acme.test"
    assert member(scim.org, squatter) is None
    [released] = events("sso.unverified_account_released")
    assert released.actor_text == f"scim:{scim.directory.public_id}"


def test_an_unverified_account_that_is_not_plainly_a_squat_is_a_conflict(scim, other_scim):
    # Unverified here, but active in another organization: for support, not for a directory.
    holder = UserFactory(email="ada@acme.test", verified=False)
    Membership.objects.create(organization=other_scim.org, user=holder, role="member")

    record = records.provision(scim.directory, "ada@acme.test")

    assert record.user is None
    assert record.link_state == LinkState.CONFLICT
    holder.refresh_from_db()
    assert not holder.is_blocked
    assert member(scim.org, holder) is None


def test_an_account_another_record_of_the_directory_links_is_a_conflict(scim):
    first = records.provision(scim.directory, "kim@acme.test")
    second = records.provision(scim.directory, "kim.j", work_email="kim@acme.test")

    assert first.link_state == LinkState.LINKED
    assert second.user is None
    assert second.link_state == LinkState.CONFLICT
    assert events("scim.user_not_admitted")[-1].data == {"reason": "linked_to_another_record"}


def test_a_record_created_inactive_gets_no_account_until_it_is_turned_on(scim):
    record = records.provision(scim.directory, "kim@acme.test", active=False)
    assert record.user is None
    assert not User.objects.exists()

    record = records.reactivate(record)

    assert record.link_state == LinkState.LINKED
    assert member(scim.org, record.user).is_active  # type: ignore[arg-type, union-attr]


def test_another_orgs_directory_never_links_this_orgs_people(scim, other_scim):
    kim = records.provision(scim.directory, "kim@acme.test", external_id="00u-kim").user

    # Globex's directory sends the same userName and externalId: acme.test is not its domain.
    theirs = records.provision(other_scim.directory, "kim@acme.test", external_id="00u-kim")
    # And the same externalId for one of its own people: another account.
    own = records.provision(other_scim.directory, "kim@globex.test", external_id="00u-kim2")

    assert theirs.user is None
    assert theirs.link_state == LinkState.OUTSIDE_DOMAINS
    assert own.user is not None
    assert own.user != kim
    assert member(other_scim.org, kim) is None  # type: ignore[arg-type]
    assert list(Membership.objects.filter(user=kim).values_list("organization", flat=True)) == [
        scim.org.pk
    ]


def test_a_member_an_admin_removed_is_left_alone_by_the_directory(scim):
    owner = UserFactory(email="owner@acme.test")
    owner_membership = Membership.objects.create(organization=scim.org, user=owner, role="owner")
    record = records.provision(scim.directory, "kim@acme.test")
    kim = record.user
    membership = member(scim.org, kim)  # type: ignore[arg-type]
    assert membership is not None

    org_services.remove_member(actor=owner_membership, org=scim.org, member_id=membership.pk)
    record.refresh_from_db()
    assert record.link_state == LinkState.DETACHED

    # Off and on again in the directory: the admin's removal stands.
    records.reactivate(records.deactivate(record))
    records.update(record, display_name="Kim J")

    membership.refresh_from_db()
    assert membership.status == "removed"
    assert events("scim.user_reactivated") == []
    assert events("scim.user_deactivated") == []
    assert len(events("org.member_removed")) == 1
