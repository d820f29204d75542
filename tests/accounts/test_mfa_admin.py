"""The admin behind a second factor, and support's MFA tools (reset with a reason, policy)."""

from __future__ import annotations

import re
from datetime import timedelta

from django.core import mail
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import BackupCodeDevice, MFAReset
from accounts.tasks import apply_due_mfa_resets
from audit.models import AuditEvent
from tests.accounts.mfa_helpers import enroll_email, enroll_totp, password_step, totp_now
from tests.accounts.test_mfa_login import backup_codes_for, email_code
from tests.conftest import force_login_verified
from tests.factories import UserFactory

CHANGELIST = "/admin/accounts/user/"


def staff(**kwargs):
    return UserFactory(email="staff@gatehouse.test", is_staff=True, is_superuser=True, **kwargs)


def test_staff_without_a_factor_are_led_to_enroll_first(client):
    person = staff()
    response = password_step(client, person, next_url="/admin/")
    assert response["Location"] == "/admin/"

    response = client.get("/admin/", follow=True)

    assert response.redirect_chain[-1][0] == "/account/security/?next=%2Fadmin%2F"
    assert response.status_code == 200


def test_staff_sent_from_the_admin_are_told_it_needs_a_second_factor(client):
    person = staff()
    password_step(client, person, next_url="/admin/")

    response = client.get("/admin/", follow=True)

    page = response.content.decode()
    assert 'id="admin-needs-mfa"' in page
    assert "The admin needs a second factor." in page
    assert 'id="admin-continue"' not in page
    # Someone who opens the page on their own is not told about the admin.
    assert 'id="admin-needs-mfa"' not in client.get("/account/security/").content.decode()


def test_staff_who_add_an_authenticator_app_go_back_to_the_admin(client):
    person = staff()
    password_step(client, person, next_url="/admin/")
    security = client.get("/admin/", follow=True).redirect_chain[-1][0]
    # Just signed in with the password, which is as strong as this account gets: no step-up.
    add_link = re.search(
        r'href="(/account/security/totp/\?next=[^"]+)"', client.get(security).content.decode()
    )
    assert add_link is not None
    page = client.get(add_link.group(1).replace("&amp;", "&"))
    device = TOTPDevice.objects.get(user=person, confirmed=False)
    response = client.post(
        add_link.group(1).replace("&amp;", "&"),
        {"device": device.pk, "code": totp_now(device), "name": "", "next": "/admin/"},
    )

    # First factor: the backup codes, then "Done" leads back to the admin, which opens.
    assert page.status_code == 200
    assert response.status_code == 200
    assert 'href="/admin/">Done</a>' in response.content.decode()
    assert client.get("/admin/").status_code == 200


def test_staff_with_totp_pass_the_second_step_and_reach_the_admin(client):
    person = staff()
    device = enroll_totp(person)
    response = password_step(client, person, next_url="/admin/")
    assert response["Location"] == "/accounts/2fa/"

    response = client.post("/accounts/2fa/", {"kind": "totp", "code": totp_now(device)})

    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_session_that_skipped_the_second_factor_is_not_enough(client):
    person = staff()
    enroll_totp(person)
    client.force_login(person)  # signed in, never verified

    response = client.get(CHANGELIST)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    response = client.get(response["Location"])
    assert response["Location"].startswith("/account/security/verify/?next=")
    # The step-up page says why the admin sent them there.
    assert 'id="admin-stepup"' in client.get(response["Location"]).content.decode()


def test_an_emailed_code_is_not_enough_for_the_admin(client):
    """Whoever holds a staff member's mailbox can reset their password: a code from the same
    mailbox must not open the admin."""
    person = staff()
    enroll_email(person)
    password_step(client, person, next_url="/admin/")
    client.post("/accounts/2fa/email/")
    code = email_code(mail.outbox[-1])
    assert client.post("/accounts/2fa/", {"kind": "email", "code": code})["Location"] == "/admin/"

    response = client.get("/admin/", follow=True)

    assert response.redirect_chain[-1][0] == "/account/security/?next=%2Fadmin%2F"
    assert client.get(CHANGELIST).status_code == 302


def test_staff_with_an_app_are_not_offered_email_codes_at_login(client):
    person = staff()
    enroll_totp(person)
    enroll_email(person)
    password_step(client, person, next_url="/admin/")
    mail.outbox.clear()

    assert b'value="email"' not in client.get("/accounts/2fa/").content
    client.post("/accounts/2fa/email/")
    assert mail.outbox == []
    # Even a code obtained some other way is refused at this step.
    device = EmailDevice.objects.get(user=person)
    device.generate_token(valid_secs=300)
    response = client.post("/accounts/2fa/", {"kind": "email", "code": device.token})
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_support_agents_cannot_reset_or_block_staff(user):
    from django.contrib.auth.models import Permission

    boss = UserFactory(email="boss@gatehouse.test", is_staff=True, is_superuser=True)
    enroll_totp(boss)
    viewer = UserFactory(email="viewer@gatehouse.test", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_user"))
    agent = UserFactory(email="agent@gatehouse.test", is_staff=True)
    agent.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user", "add_mfareset"])
    )
    enroll_totp(user)

    # Without the change permission the actions are not even offered.
    viewer_client = force_login_verified(Client(), viewer)
    page = viewer_client.get(CHANGELIST)
    assert b"reset_mfa" not in page.content
    viewer_client.post(
        CHANGELIST,
        {"action": "reset_mfa", "_selected_action": [user.pk], "confirm": "1", "reason": "x"},
    )
    assert not MFAReset.objects.exists()

    # An agent acts on customers, not on staff.
    agent_client = force_login_verified(Client(), agent)
    for action in ("reset_mfa", "block_users"):
        agent_client.post(
            CHANGELIST,
            {
                "action": action,
                "_selected_action": [boss.pk, user.pk],
                "confirm": "1",
                "reason": "ticket 12",
            },
        )
    boss.refresh_from_db()
    assert not MFAReset.objects.filter(user=boss).exists()
    assert not boss.is_blocked
    user.refresh_from_db()
    assert MFAReset.objects.get(user=user).status == MFAReset.Status.PENDING
    assert user.is_blocked


def test_reset_mfa_needs_a_reason_is_scheduled_then_removes_everything_audits_and_emails(user):
    admin_client = force_login_verified(Client(), staff())
    enroll_totp(user)
    enroll_email(user)
    backup_codes_for(user)
    before = {
        "totp": TOTPDevice.objects.filter(user=user).count(),
        "email": EmailDevice.objects.filter(user=user).count(),
    }
    assert before == {"totp": 1, "email": 1}

    refused = admin_client.post(
        CHANGELIST,
        {"action": "reset_mfa", "_selected_action": [user.pk], "confirm": "1", "reason": ""},
    )
    assert refused.status_code == 200
    assert refused.context["form"].errors
    assert not MFAReset.objects.exists()
    mail.outbox.clear()

    admin_client.post(
        CHANGELIST,
        {
            "action": "reset_mfa",
            "_selected_action": [user.pk],
            "confirm": "1",
            "reason": "Ticket 4711: lost phone, identity checked by video call",
        },
    )

    # Scheduled, not done: the factors stay until the waiting period is over.
    assert TOTPDevice.objects.filter(user=user).exists()
    [scheduled] = mail.outbox
    assert scheduled.to == [user.email]
    reset = MFAReset.objects.get(user=user)
    MFAReset.objects.filter(pk=reset.pk).update(due_at=timezone.now() - timedelta(seconds=1))
    mail.outbox.clear()
    assert apply_due_mfa_resets() == 1

    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not EmailDevice.objects.filter(user=user).exists()
    assert not BackupCodeDevice.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(action="mfa.reset", target_id=str(user.pk))
    assert event.data["reason"].startswith("Ticket 4711")
    assert event.data["removed"] == 3
    [notice] = mail.outbox
    assert notice.to == [user.email]
    # The user can sign in with the password alone again.
    assert password_step(Client(), user)["Location"] == "/account/"


def test_user_page_shows_factors_but_never_their_secrets(user):
    admin_client = force_login_verified(Client(), staff())
    device = enroll_totp(user, name="Pixel 9")
    codes = backup_codes_for(user)

    page = admin_client.get(f"{CHANGELIST}{user.pk}/change/")

    assert page.status_code == 200
    assert b"Pixel 9" in page.content
    assert device.key.encode() not in page.content
    for code in codes:
        assert code.encode() not in page.content
    for code_hash in BackupCodeDevice.objects.get(user=user).codes.values_list(
        "code_hash", flat=True
    ):
        assert code_hash.encode() not in page.content
    # Nor do the plugins' own admin pages exist, which would show keys and QR codes.
    assert admin_client.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert admin_client.get("/admin/otp_email/emaildevice/").status_code == 404


def test_support_can_require_mfa_and_it_is_audited(user):
    from django.contrib.auth.models import Permission

    agent = UserFactory(email="agent@gatehouse.test", is_staff=True)
    agent.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user"])
    )
    agent_client = force_login_verified(Client(), agent)
    page = agent_client.get(f"{CHANGELIST}{user.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form.initial.get(name, "") for name in form.fields}
    data = {k: v for k, v in data.items() if v is not None and not isinstance(v, list | tuple)}
    data["mfa_required"] = "on"

    response = agent_client.post(f"{CHANGELIST}{user.pk}/change/", data)

    assert response.status_code == 302, response.content[:3000]
    user.refresh_from_db()
    assert user.mfa_required is True
    event = AuditEvent.objects.get(action="user.edited_by_staff", target_id=str(user.pk))
    assert event.data["values"]["mfa_required"] is True
    # At the next login the user must enroll before anything else.
    client = Client()
    password_step(client, user)
    assert client.get("/account/")["Location"].startswith("/account/security/")
