"""Support staff in the Django admin: find users, block and unblock with a reason, resend."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from accounts.models import User
from audit.models import AuditEvent
from tests.conftest import force_login_verified
from tests.factories import DEFAULT_PASSWORD, UserFactory

CHANGELIST = "/admin/accounts/user/"


class StaffClient(Client):
    staff: User  # who the client is signed in as


@pytest.fixture
def staff_client() -> StaffClient:
    staff = UserFactory(email="support@gatehouse.test", is_staff=True, is_superuser=True)
    client = StaffClient()
    force_login_verified(client, staff)
    client.staff = staff
    return client


def test_user_list_is_searchable_by_email(staff_client):
    UserFactory(email="findme@example.com")
    UserFactory(email="other@example.com")

    response = staff_client.get(CHANGELIST, {"q": "FINDME"})

    assert response.status_code == 200
    shown = [u.email for u in response.context["cl"].result_list]
    assert shown == ["findme@example.com"]


def test_user_list_filters_blocked_and_unverified(staff_client):
    blocked = UserFactory(is_blocked=True)
    unverified = UserFactory(verified=False)

    blocked_page = staff_client.get(CHANGELIST, {"is_blocked__exact": "1"})
    unverified_page = staff_client.get(CHANGELIST, {"verified": "no"})

    assert [u.pk for u in blocked_page.context["cl"].result_list] == [blocked.pk]
    assert [u.pk for u in unverified_page.context["cl"].result_list] == [unverified.pk]


def test_user_page_never_shows_the_password_hash(staff_client, user):
    response = staff_client.get(f"{CHANGELIST}{user.pk}/change/")

    assert response.status_code == 200
    assert user.password.encode() not in response.content
    assert b"argon2" not in response.content


def test_block_asks_for_a_reason_first(staff_client, user):
    response = staff_client.post(
        CHANGELIST, {"action": "block_users", "_selected_action": [user.pk]}
    )

    assert response.status_code == 200
    assert b"give a reason" in response.content
    user.refresh_from_db()
    assert not user.is_blocked


def test_block_without_a_reason_is_refused(staff_client, user):
    response = staff_client.post(
        CHANGELIST,
        {"action": "block_users", "_selected_action": [user.pk], "confirm": "1", "reason": " "},
    )

    assert response.status_code == 200
    assert response.context["form"].errors
    user.refresh_from_db()
    assert not user.is_blocked
    assert not AuditEvent.objects.filter(action="user.blocked").exists()


def test_block_with_reason_ends_sessions_and_is_audited(staff_client, user):
    victim_device = Client()
    victim_device.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    assert victim_device.get("/account/").status_code == 200

    response = staff_client.post(
        CHANGELIST,
        {
            "action": "block_users",
            "_selected_action": [user.pk],
            "confirm": "1",
            "reason": "Reported for fraud, ticket 4711",
        },
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.is_blocked
    assert user.blocked_at is not None
    assert user.blocked_reason == "Reported for fraud, ticket 4711"
    assert victim_device.get("/account/").status_code == 302, "their session ended"
    event = AuditEvent.objects.get(action="user.blocked")
    assert event.actor_id == staff_client.staff.pk
    assert event.actor_text == "support@gatehouse.test"
    assert event.data == {"reason": "Reported for fraud, ticket 4711", "sessions_ended": 1}


def test_unblock_with_reason_lets_the_user_back_in(staff_client):
    user = UserFactory(is_blocked=True, blocked_reason="mistake")

    staff_client.post(
        CHANGELIST,
        {
            "action": "unblock_users",
            "_selected_action": [user.pk],
            "confirm": "1",
            "reason": "Cleared after review",
        },
    )

    user.refresh_from_db()
    assert not user.is_blocked
    assert user.blocked_reason == ""
    assert AuditEvent.objects.get(action="user.unblocked").data["reason"] == "Cleared after review"
    response = Client().post(
        "/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302


def test_resend_verification_sends_to_unverified_users_only(staff_client):
    unverified = UserFactory(verified=False)
    verified = UserFactory()
    mail.outbox.clear()

    asked = staff_client.post(
        CHANGELIST,
        {"action": "resend_verification", "_selected_action": [unverified.pk, verified.pk]},
    )
    assert b"give a reason" in asked.content
    assert mail.outbox == []

    staff_client.post(
        CHANGELIST,
        {
            "action": "resend_verification",
            "_selected_action": [unverified.pk, verified.pk],
            "confirm": "1",
            "reason": "User says the first email never came (ticket 99)",
        },
    )

    assert [m.to for m in mail.outbox] == [[unverified.email]]
    assert "/accounts/confirm-email/" in mail.outbox[0].body
    assert AuditEvent.objects.filter(
        action="email.verification_resent", target_id=str(unverified.pk)
    ).exists()
    assert not EmailAddress.objects.get(user=unverified).verified


def test_support_staff_cannot_add_or_delete_users(staff_client, user):
    assert staff_client.get(f"{CHANGELIST}add/").status_code == 403
    assert staff_client.get(f"{CHANGELIST}{user.pk}/delete/").status_code == 403
    assert User.objects.filter(pk=user.pk).exists()


def test_non_staff_cannot_reach_the_admin(logged_in_client):
    response = logged_in_client.get(CHANGELIST)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_blocked_user_with_live_session_is_signed_out_on_next_request(user):
    device = Client()
    device.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    # A block written behind the service's back (no session teardown) is still enforced.
    User.objects.filter(pk=user.pk).update(is_blocked=True)

    response = device.get("/account/", HTTP_X_REQUEST_ID="edge-req-blocked-1")

    assert response.status_code == 302
    assert "_auth_user_id" not in device.session
    event = AuditEvent.objects.get(action="logout", actor=user)
    assert event.request_id == "edge-req-blocked-1"
    assert event.ip == "127.0.0.1"


def test_admin_login_goes_through_the_throttled_gatehouse_login(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")

    # The admin's own form cannot be used to guess passwords around the lockout.
    staff = UserFactory(email="staff@gatehouse.test", is_staff=True)
    response = client.post("/admin/login/", {"username": staff.email, "password": "guess"})
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_secret_fields_cannot_be_filtered_through_the_url(staff_client, user):
    prefix = user.password[:12]
    response = staff_client.get(CHANGELIST, {"password__startswith": prefix})
    assert response.status_code == 400

    response = staff_client.get("/admin/accounts/outboundemail/", {"text_body__contains": "key"})
    assert response.status_code == 400


def _support_agent() -> StaffClient:
    """Staff with the change-user permission, but not a superuser."""
    from django.contrib.auth.models import Permission

    agent = UserFactory(email="agent@gatehouse.test", is_staff=True)
    agent.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user"])
    )
    client = StaffClient()
    force_login_verified(client, agent)
    client.staff = agent
    return client


def test_support_agent_cannot_make_anyone_superuser(user):
    agent_client = _support_agent()
    agent = agent_client.staff
    page = agent_client.get(f"{CHANGELIST}{agent.pk}/change/")
    assert page.status_code == 200
    assert b'name="is_superuser"' not in page.content

    agent_client.post(
        f"{CHANGELIST}{agent.pk}/change/",
        {"display_name": "Agent", "is_superuser": "on", "is_staff": "on"},
    )

    agent.refresh_from_db()
    assert not agent.is_superuser
    assert agent.display_name == "Agent"
    event = AuditEvent.objects.get(action="user.edited_by_staff")
    assert event.data["fields"] == ["display_name"]


def test_superuser_edits_of_privileges_are_audited(staff_client, user):
    response = staff_client.post(
        f"{CHANGELIST}{user.pk}/change/",
        {"display_name": user.display_name, "is_active": "on", "is_staff": "on"},
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.is_staff
    event = AuditEvent.objects.get(action="user.edited_by_staff")
    assert event.actor_id == staff_client.staff.pk
    assert event.data == {"fields": ["is_staff"], "values": {"is_staff": True}}


def test_select_all_across_pages_blocks_every_matching_user_without_listing_ids(staff_client):
    targets = UserFactory.create_batch(60, display_name="Spam Ring")  # more than one page
    bystander = UserFactory(display_name="Innocent")

    asked = staff_client.post(
        f"{CHANGELIST}?q=Spam+Ring",
        {"action": "block_users", "select_across": "1", "_selected_action": [targets[0].pk]},
    )
    assert asked.status_code == 200
    assert b'name="select_across" value="1"' in asked.content
    assert asked.content.count(b'name="_selected_action"') == 1  # what the page posted
    assert b"and 40 more" in asked.content

    staff_client.post(
        f"{CHANGELIST}?q=Spam+Ring",
        {
            "action": "block_users",
            "select_across": "1",
            "_selected_action": [targets[0].pk],
            "confirm": "1",
            "reason": "Spam ring, ticket 12",
        },
    )

    assert User.objects.filter(display_name="Spam Ring", is_blocked=True).count() == 60
    bystander.refresh_from_db()
    assert not bystander.is_blocked
