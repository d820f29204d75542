"""Support actions on the person page (issue 19, item 2): each asks for a reason, runs the
existing service, is audited with the reason, and is open only to staff holding its
permission."""

from __future__ import annotations

import uuid

import pytest
from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import MFAReset, User
from audit.models import AuditEvent
from consent.models import DataSubjectRequest
from organizations import services as organizations
from organizations.models import Membership
from tests.accounts.mfa_helpers import enroll_totp
from tests.conftest import force_login_verified
from tests.factories import UserFactory

CHANGELIST = "/admin/accounts/user/"
REASON = "Ticket 4711: asked by phone, identity checked"


def page_of(user: User) -> str:
    return f"{CHANGELIST}{user.pk}/change/"


def action_url(user: User, name: str) -> str:
    return f"{CHANGELIST}{user.pk}/support/{name}/"


class StaffClient(Client):
    staff: User  # who the client is signed in as


def signed_in_staff(*codenames: str, superuser: bool = False) -> StaffClient:
    staff = UserFactory(
        email=f"staff-{uuid.uuid4().hex[:8]}@gatehouse.test", is_staff=True, is_superuser=superuser
    )
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = StaffClient()
    force_login_verified(client, staff)
    client.staff = staff
    return client


@pytest.fixture
def admin_client() -> StaffClient:
    return signed_in_staff(superuser=True)


@pytest.fixture
def person() -> User:
    return UserFactory(email="pat@example.com")


def add_session(user: User) -> UserSession:
    now = timezone.now()
    return UserSession.objects.create(
        user=user,
        session_key=f"sk{uuid.uuid4().hex}",
        ip="203.0.113.9",
        user_agent="curl/8.0",
        created_at=now,
        last_seen_at=now,
    )


def only_event(action: str) -> AuditEvent:
    return AuditEvent.objects.get(action=action)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_block_with_a_reason_blocks_and_is_audited(admin_client, person):
    add_session(person)

    response = admin_client.post(action_url(person, "block"), {"reason": REASON}, follow=True)

    assert response.redirect_chain[-1][0] == page_of(person)
    person.refresh_from_db()
    assert person.is_blocked
    assert person.blocked_reason == REASON
    assert not UserSession.objects.filter(user=person).exists()
    event = only_event("user.blocked")
    assert event.actor_id == admin_client.staff.pk
    assert event.data["reason"] == REASON
    assert any("Blocked" in m for m in messages_of(response))


def test_unblock_with_a_reason(admin_client):
    person = UserFactory(is_blocked=True, blocked_reason="fraud")

    admin_client.post(action_url(person, "unblock"), {"reason": REASON})

    person.refresh_from_db()
    assert not person.is_blocked
    assert only_event("user.unblocked").data["reason"] == REASON


def test_end_sessions_ends_every_session_and_keeps_the_reason(admin_client, person):
    kept_by_someone_else = add_session(UserFactory())
    for _ in range(3):
        add_session(person)

    response = admin_client.post(action_url(person, "end-sessions"), {"reason": REASON})

    assert response.status_code == 302
    assert not UserSession.objects.filter(user=person).exists()
    assert UserSession.objects.filter(pk=kept_by_someone_else.pk).exists()
    event = only_event("session.revoked_all")
    assert event.data["sessions_ended"] == 3
    assert event.data["reason"] == REASON
    assert event.actor_id == admin_client.staff.pk


def test_reset_second_factors_schedules_a_support_reset(admin_client, person):
    enroll_totp(person)

    admin_client.post(action_url(person, "reset-mfa"), {"reason": REASON})

    reset = MFAReset.objects.get(user=person)
    assert reset.via == MFAReset.Via.SUPPORT
    assert reset.requested_by == admin_client.staff
    event = only_event("mfa.reset_requested")
    assert event.data["reason"] == REASON
    assert person.email in [m.to[0] for m in mail.outbox]


def test_resend_verification_sends_the_email_and_is_audited(admin_client):
    person = UserFactory(verified=False)
    mail.outbox.clear()

    admin_client.post(action_url(person, "resend-verification"), {"reason": REASON})

    assert [m.to for m in mail.outbox] == [[person.email]]
    assert only_event("email.verification_resent").data["reason"] == REASON


def test_remove_from_an_organization(admin_client, person):
    owner = UserFactory(email="owner@corp.example")
    org = organizations.create_organization(actor=owner, name="Corp", slug="corp")
    membership = Membership.objects.create(
        organization=org, user=person, role="member", source="admin"
    )
    page = admin_client.get(page_of(person)).content.decode()
    assert f'name="membership" value="{membership.pk}"' in page

    response = admin_client.post(
        action_url(person, "remove-membership"), {"reason": REASON, "membership": membership.pk}
    )

    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.status == Membership.Status.REMOVED
    event = only_event("org.member_removed")
    assert event.data["reason"] == REASON
    assert event.data["by_support"] is True
    assert event.organization_id == org.pk
    assert event.actor_id == admin_client.staff.pk


def test_the_last_owner_is_not_removed_and_support_is_told_why(admin_client, person):
    org = organizations.create_organization(actor=person, name="Solo", slug="solo")
    membership = Membership.objects.get(organization=org, user=person)

    response = admin_client.post(
        action_url(person, "remove-membership"),
        {"reason": REASON, "membership": membership.pk},
        follow=True,
    )

    assert response.status_code == 200
    assert any("last owner" in m for m in messages_of(response))
    membership.refresh_from_db()
    assert membership.status == Membership.Status.ACTIVE
    assert not AuditEvent.objects.filter(action="org.member_removed").exists()


def test_a_membership_of_someone_else_is_not_removed(admin_client, person):
    other = UserFactory()
    owner = UserFactory()
    org = organizations.create_organization(actor=owner, name="Corp", slug="corp")
    theirs = Membership.objects.create(organization=org, user=other, role="member", source="admin")

    response = admin_client.post(
        action_url(person, "remove-membership"), {"reason": REASON, "membership": theirs.pk}
    )

    assert response.status_code == 200
    assert "Choose one of this person" in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.status == Membership.Status.ACTIVE


def test_start_erasure_schedules_it_on_record(admin_client, person):
    response = admin_client.post(action_url(person, "start-erasure"), {"reason": REASON})

    assert response.status_code == 302
    erasure = DataSubjectRequest.objects.get(user=person, kind="erasure")
    assert erasure.via == DataSubjectRequest.Via.SUPPORT
    assert erasure.status == DataSubjectRequest.Status.SCHEDULED
    event = only_event("privacy.erasure_requested")
    assert event.actor_id == admin_client.staff.pk
    assert event.data["reason"] == REASON
    assert event.data["via"] == "support"


def test_erasure_of_a_sole_owner_is_refused_with_a_message(admin_client, person):
    org = organizations.create_organization(actor=person, name="Corp", slug="corp")
    Membership.objects.create(organization=org, user=UserFactory(), role="member", source="admin")

    response = admin_client.post(
        action_url(person, "start-erasure"), {"reason": REASON}, follow=True
    )

    assert response.status_code == 200
    assert any("only owner" in m for m in messages_of(response))
    assert not DataSubjectRequest.objects.filter(user=person).exists()


@pytest.mark.parametrize(
    "name", ["block", "end-sessions", "reset-mfa", "resend-verification", "start-erasure"]
)
def test_a_missing_reason_shows_the_form_again_and_does_nothing(admin_client, name):
    person = UserFactory(verified=False)
    add_session(person)
    enroll_totp(person)
    events_before = AuditEvent.objects.count()
    mail.outbox.clear()

    response = admin_client.post(action_url(person, name), {"reason": "   "})

    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    person.refresh_from_db()
    assert not person.is_blocked
    assert UserSession.objects.filter(user=person).exists()
    assert not MFAReset.objects.exists()
    assert not DataSubjectRequest.objects.exists()
    assert mail.outbox == []
    assert AuditEvent.objects.count() == events_before


def test_the_page_offers_a_button_per_action_to_a_superuser(admin_client):
    person = UserFactory(verified=False)
    owner = UserFactory()
    org = organizations.create_organization(actor=owner, name="Corp", slug="corp")
    Membership.objects.create(organization=org, user=person, role="member", source="admin")

    html = admin_client.get(page_of(person)).content.decode()

    for name in ACTIONS:
        assert f'action="{action_url(person, name)}"' in html, name
    assert html.count('name="csrfmiddlewaretoken"') >= len(ACTIONS)


ACTIONS = [
    "block",
    "end-sessions",
    "reset-mfa",
    "resend-verification",
    "remove-membership",
    "start-erasure",
]


def test_staff_who_may_only_view_see_no_button_and_get_403(person):
    viewer = signed_in_staff("view_user")
    owner = UserFactory()
    org = organizations.create_organization(actor=owner, name="Corp", slug="corp")
    membership = Membership.objects.create(
        organization=org, user=person, role="member", source="admin"
    )

    html = viewer.get(page_of(person)).content.decode()

    assert "/support/" not in html
    for name in ACTIONS:
        posted = viewer.post(
            action_url(person, name), {"reason": REASON, "membership": membership.pk}
        )
        assert posted.status_code == 403, name
    person.refresh_from_db()
    assert not person.is_blocked
    assert Membership.objects.get(pk=membership.pk).status == Membership.Status.ACTIVE
    assert (
        not AuditEvent.objects.filter(actor_id=viewer.staff.pk)
        .exclude(action="login.succeeded")
        .exists()
    )


def test_each_action_needs_its_own_permission(person):
    agent = signed_in_staff("view_user", "change_user")
    owner = UserFactory()
    org = organizations.create_organization(actor=owner, name="Corp", slug="corp")
    membership = Membership.objects.create(
        organization=org, user=person, role="member", source="admin"
    )

    html = agent.get(page_of(person)).content.decode()

    assert f'action="{action_url(person, "block")}"' in html
    for name in ("reset-mfa", "remove-membership", "start-erasure"):
        assert f'action="{action_url(person, name)}"' not in html, name
        posted = agent.post(
            action_url(person, name), {"reason": REASON, "membership": membership.pk}
        )
        assert posted.status_code == 403, name
    assert not MFAReset.objects.exists()
    assert not DataSubjectRequest.objects.exists()

    trusted = signed_in_staff(
        "view_user", "change_user", "add_mfareset", "delete_membership", "add_datasubjectrequest"
    )
    html = trusted.get(page_of(person)).content.decode()
    for name in ("reset-mfa", "remove-membership", "start-erasure"):
        assert f'action="{action_url(person, name)}"' in html, name


def test_an_agent_does_not_act_on_staff(person):
    agent = signed_in_staff(
        "view_user", "change_user", "add_mfareset", "delete_membership", "add_datasubjectrequest"
    )
    colleague = UserFactory(is_staff=True)

    html = agent.get(page_of(colleague)).content.decode()

    for name in ("block", "end-sessions", "reset-mfa", "start-erasure"):
        assert f'action="{action_url(colleague, name)}"' not in html, name
        assert agent.post(action_url(colleague, name), {"reason": REASON}).status_code == 403
    colleague.refresh_from_db()
    assert not colleague.is_blocked


def test_actions_are_post_only_and_csrf_protected(person):
    staff = UserFactory(email="csrf@gatehouse.test", is_staff=True, is_superuser=True)
    client = force_login_verified(Client(enforce_csrf_checks=True), staff)

    form_page = client.get(action_url(person, "block"))
    forged = client.post(action_url(person, "block"), {"reason": REASON})

    assert form_page.status_code == 200  # the reason form, nothing done
    assert forged.status_code == 403
    person.refresh_from_db()
    assert not person.is_blocked
    assert client.put(action_url(person, "block")).status_code in (403, 405)


def test_unknown_actions_and_people_are_404(admin_client, person):
    assert admin_client.get(action_url(person, "delete-everything")).status_code == 404
    assert (
        admin_client.post(f"{CHANGELIST}999999/support/block/", {"reason": REASON}).status_code
        == 404
    )


def test_an_erased_account_takes_no_action(admin_client, person):
    User.objects.filter(pk=person.pk).update(erased_at=timezone.now())

    assert admin_client.post(action_url(person, "block"), {"reason": REASON}).status_code == 403
    assert not AuditEvent.objects.filter(action="user.blocked").exists()


def test_resend_is_offered_only_while_an_address_is_unverified(admin_client, person):
    assert EmailAddress.objects.filter(user=person, verified=False).count() == 0

    html = admin_client.get(page_of(person)).content.decode()

    assert f'action="{action_url(person, "resend-verification")}"' not in html
