"""Losing every factor: a reset that waits, tells every verified address, and can be cancelled.

Support schedules one from the admin (with a reason, and a permission of its own), the person
from a login's second step; the emailed link cancels it once without signing in; the beat job
applies it when due, once, and the person signs in and enrolls again.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Permission
from django.core import mail, signing
from django.core.mail import EmailMultiAlternatives
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.mfa.services import recovery
from accounts.models import BackupCodeDevice, MFAReset
from accounts.tasks import apply_due_mfa_resets
from audit.models import AuditEvent
from tests.accounts.mfa_helpers import enroll_totp, is_logged_in, password_step, totp_now
from tests.accounts.test_mfa_login import backup_codes_for
from tests.conftest import force_login_verified, links_in, path_of
from tests.factories import UserFactory

CHANGELIST = "/admin/accounts/user/"
RESETS = "/admin/accounts/mfareset/"
REASON = "Ticket 4711: lost phone, identity checked by video call"


@pytest.fixture
def person(db):
    """A customer with an authenticator app and backup codes, a second verified address and
    an address they added but never verified."""
    user = UserFactory(email="pat@example.com")
    EmailAddress.objects.create(user=user, email="pat.work@example.org", verified=True)
    EmailAddress.objects.create(user=user, email="typo@example.net", verified=False)
    enroll_totp(user)
    backup_codes_for(user)
    mail.outbox.clear()
    return user


def superuser_client() -> Client:
    boss = UserFactory(email="boss@gatehouse.test", is_staff=True, is_superuser=True)
    return force_login_verified(Client(), boss)


def agent_client(*codenames: str) -> Client:
    agent = UserFactory(is_staff=True)
    agent.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return force_login_verified(Client(), agent)


def schedule_in_admin(admin: Client, user, reason: str = REASON):
    return admin.post(
        CHANGELIST,
        {"action": "reset_mfa", "_selected_action": [user.pk], "confirm": "1", "reason": reason},
        follow=True,
    )


def cancel_path(message) -> str:
    [link] = [link for link in links_in(message) if "/accounts/2fa/reset/cancel/" in link]
    return path_of(link)


def sign_in_with_the_app(person) -> Client:
    client = Client()
    password_step(client, person)
    device = TOTPDevice.objects.get(user=person)
    client.post("/accounts/2fa/", {"kind": "totp", "code": totp_now(device)})
    assert is_logged_in(client, person)
    return client


def make_due(reset: MFAReset) -> None:
    """The waiting period passes (the row's due time moves into the past)."""
    MFAReset.objects.filter(pk=reset.pk).update(due_at=timezone.now() - timedelta(seconds=1))


def factors_of(user) -> dict[str, bool]:
    return {
        "totp": TOTPDevice.objects.filter(user=user).exists(),
        "backup_codes": BackupCodeDevice.objects.filter(user=user).exists(),
    }


# --- Scheduling in the admin --------------------------------------------------------------------


def test_support_schedules_a_reset_that_waits_and_tells_every_verified_address(person, settings):
    settings.GATEHOUSE_MFA_RESET_WAIT_HOURS = 72
    before = timezone.now()

    page = schedule_in_admin(superuser_client(), person)

    assert page.status_code == 200
    assert "Each takes effect after the waiting period" in page.content.decode()
    reset = MFAReset.objects.get(user=person)
    assert reset.status == MFAReset.Status.PENDING
    assert reset.via == MFAReset.Via.SUPPORT
    assert reset.reason == REASON
    assert timedelta(hours=72) <= reset.due_at - before < timedelta(hours=72, minutes=1)
    # Nothing is removed yet.
    assert factors_of(person) == {"totp": True, "backup_codes": True}
    # Every verified address is told at once, with a link to cancel; the unverified one is not.
    assert sorted(m.to[0] for m in mail.outbox) == ["pat.work@example.org", "pat@example.com"]
    for message in mail.outbox:
        assert "/accounts/2fa/reset/cancel/" in message.body
        assert "Support scheduled" in message.body
    event = AuditEvent.objects.get(action="mfa.reset_requested", target_id=str(person.pk))
    assert event.actor_text == "boss@gatehouse.test"
    assert event.data["reason"] == REASON
    assert event.data["via"] == "support"
    assert event.data["addresses_told"] == 2
    assert not AuditEvent.objects.filter(action="mfa.reset").exists()


@pytest.mark.parametrize("reason", ["", "   "])
def test_no_reason_is_refused_in_the_admin_with_a_clear_message(person, reason):
    page = schedule_in_admin(superuser_client(), person, reason=reason)

    assert page.status_code == 200
    assert page.context["form"].errors["reason"] == ["This field is required."]
    assert "This field is required." in page.content.decode()
    assert not MFAReset.objects.exists()
    assert mail.outbox == []


def test_scheduling_twice_keeps_one_reset_and_emails_once(person):
    admin = superuser_client()
    schedule_in_admin(admin, person)
    first = MFAReset.objects.get(user=person)
    mail.outbox.clear()

    schedule_in_admin(admin, person, reason="asked again")

    assert list(MFAReset.objects.filter(user=person)) == [first]
    assert mail.outbox == []
    assert AuditEvent.objects.filter(action="mfa.reset_requested").count() == 1


def test_staff_without_the_reset_permission_cannot_schedule_one(person):
    # Changing users is not enough: the action is neither offered nor run.
    changer = agent_client("view_user", "change_user")
    assert b"reset_mfa" not in changer.get(CHANGELIST).content
    schedule_in_admin(changer, person)
    assert not MFAReset.objects.exists()

    # With the permission, an agent schedules resets of customers, but not of staff.
    agent = agent_client("view_user", "change_user", "add_mfareset")
    assert b"reset_mfa" in agent.get(CHANGELIST).content
    colleague = UserFactory(email="colleague@gatehouse.test", is_staff=True, is_superuser=True)
    enroll_totp(colleague)
    agent.post(
        CHANGELIST,
        {
            "action": "reset_mfa",
            "_selected_action": [person.pk, colleague.pk],
            "confirm": "1",
            "reason": REASON,
        },
    )
    assert list(MFAReset.objects.values_list("user__email", flat=True)) == ["pat@example.com"]


def test_admin_shows_a_pending_reset_without_any_secret(person):
    admin = superuser_client()
    schedule_in_admin(admin, person)
    reset = MFAReset.objects.get(user=person)
    token = cancel_path(mail.outbox[0]).rsplit("/", 2)[-2]

    user_page = admin.get(f"{CHANGELIST}{person.pk}/change/").content.decode()
    listing = admin.get(RESETS).content.decode()
    detail = admin.get(f"{RESETS}{reset.pk}/change/").content.decode()

    assert "Every factor will be removed on" in user_page
    assert f"{RESETS}{reset.pk}/change/" in user_page
    assert "pat@example.com" in listing
    assert REASON in detail
    for page in (user_page, listing, detail):
        assert token not in page
        assert TOTPDevice.objects.get(user=person).key not in page
    event = AuditEvent.objects.get(action="mfa.reset_requested")
    assert token not in str(event.data)


def test_staff_cancel_a_pending_reset_with_a_reason(person):
    admin = superuser_client()
    schedule_in_admin(admin, person)
    reset = MFAReset.objects.get(user=person)
    mail.outbox.clear()

    refused = admin.post(
        RESETS,
        {"action": "cancel_resets", "_selected_action": [reset.pk], "confirm": "1", "reason": ""},
    )
    assert refused.status_code == 200
    assert refused.context["form"].errors["reason"] == ["This field is required."]
    reset.refresh_from_db()
    assert reset.status == MFAReset.Status.PENDING

    admin.post(
        RESETS,
        {
            "action": "cancel_resets",
            "_selected_action": [reset.pk],
            "confirm": "1",
            "reason": "The person found their phone",
        },
    )

    reset.refresh_from_db()
    assert reset.status == MFAReset.Status.CANCELLED
    assert reset.cancelled_how == "admin"
    event = AuditEvent.objects.get(action="mfa.reset_cancelled")
    assert event.data["how"] == "admin"
    assert event.data["reason"] == "The person found their phone"
    assert event.actor_text == "boss@gatehouse.test"
    assert sorted(m.to[0] for m in mail.outbox) == ["pat.work@example.org", "pat@example.com"]


def test_staff_who_may_only_view_resets_cannot_cancel_them(person):
    schedule_in_admin(superuser_client(), person)
    reset = MFAReset.objects.get(user=person)
    viewer = agent_client("view_user", "view_mfareset")

    assert viewer.get(RESETS).status_code == 200
    viewer.post(
        RESETS,
        {"action": "cancel_resets", "_selected_action": [reset.pk], "confirm": "1", "reason": "x"},
    )

    reset.refresh_from_db()
    assert reset.status == MFAReset.Status.PENDING


# --- The emailed cancel link ------------------------------------------------------------------


def test_the_cancel_link_works_once_without_signing_in_and_is_audited(person):
    schedule_in_admin(superuser_client(), person)
    path = cancel_path(next(m for m in mail.outbox if m.to == ["pat.work@example.org"]))
    mail.outbox.clear()
    visitor = Client()

    page = visitor.get(path)
    assert page.status_code == 200
    assert 'id="confirm-cancel"' in page.content.decode()
    # Opening the link (a mail scanner does) cancels nothing.
    assert MFAReset.objects.get(user=person).status == MFAReset.Status.PENDING

    done = visitor.post(path)

    assert done.status_code == 200
    assert 'id="reset-cancelled"' in done.content.decode()
    reset = MFAReset.objects.get(user=person)
    assert reset.status == MFAReset.Status.CANCELLED
    assert reset.cancelled_how == "link"
    event = AuditEvent.objects.get(action="mfa.reset_cancelled", target_id=str(person.pk))
    assert event.actor is None
    assert event.actor_text == "cancel link from a reset notice"
    assert event.data["how"] == "link"
    assert sorted(m.to[0] for m in mail.outbox) == ["pat.work@example.org", "pat@example.com"]

    again = visitor.post(path)
    assert again.status_code == 409
    assert "already cancelled" in again.content.decode()
    assert visitor.get(path).status_code == 409
    assert AuditEvent.objects.filter(action="mfa.reset_cancelled").count() == 1
    # The cancelled reset is never applied.
    make_due(reset)
    assert apply_due_mfa_resets() == 0
    assert factors_of(person) == {"totp": True, "backup_codes": True}


class _SignedDaysAgo(signing.TimestampSigner):
    """Signs as a link sent ``days`` ago would have been signed."""

    def __init__(self, days: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.days = days

    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - self.days * 86400)


def _bad_links(reset: MFAReset, good: str) -> dict[str, str]:
    value = {"reset": str(reset.public_id)}
    return {
        "tampered": good[:-3] + ("aaa" if not good.endswith("aaa") else "bbb"),
        "another purpose": signing.dumps(value, salt="gatehouse.accounts.something-else"),
        "expired": _SignedDaysAgo(10, salt=recovery.CANCEL_SALT).sign_object(value),
        "unknown reset": signing.dumps(
            {"reset": "00000000-0000-4000-8000-000000000000"}, salt=recovery.CANCEL_SALT
        ),
        "not an object": signing.dumps("hello", salt=recovery.CANCEL_SALT),
    }


def test_a_tampered_expired_or_foreign_link_is_refused_with_a_clear_page(person):
    schedule_in_admin(superuser_client(), person)
    reset = MFAReset.objects.get(user=person)
    good = cancel_path(mail.outbox[0]).rsplit("/", 2)[-2]
    mail.outbox.clear()

    for name, token in _bad_links(reset, good).items():
        for method in ("get", "post"):
            page = getattr(Client(), method)(f"/accounts/2fa/reset/cancel/{token}/")
            assert page.status_code == 400, name
            text = page.content.decode()
            assert 'id="reset-cancel-error"' in text, name
            expected = "has expired" if name == "expired" else "is not valid"
            assert expected in text, name

    reset.refresh_from_db()
    assert reset.status == MFAReset.Status.PENDING
    assert not AuditEvent.objects.filter(action="mfa.reset_cancelled").exists()
    assert mail.outbox == []


# --- Applying it ------------------------------------------------------------------------------


def test_a_due_reset_is_applied_by_the_job_once_and_not_before(person):
    signed_in = sign_in_with_the_app(person)
    schedule_in_admin(superuser_client(), person)
    reset = MFAReset.objects.get(user=person)
    mail.outbox.clear()

    # Not before its time.
    assert apply_due_mfa_resets() == 0
    assert factors_of(person) == {"totp": True, "backup_codes": True}
    assert is_logged_in(signed_in, person)

    make_due(reset)
    assert apply_due_mfa_resets() == 1

    assert factors_of(person) == {"totp": False, "backup_codes": False}
    reset.refresh_from_db()
    assert reset.status == MFAReset.Status.APPLIED
    assert reset.applied_at is not None
    # The person's sessions ended.
    assert signed_in.get("/account/")["Location"].startswith("/accounts/login/")
    event = AuditEvent.objects.get(action="mfa.reset", target_id=str(person.pk))
    assert event.actor is None
    assert event.data["reason"] == REASON
    assert event.data["removed"] == 2
    assert event.data["sessions_ended"] == 1
    assert sorted(m.to[0] for m in mail.outbox) == ["pat.work@example.org", "pat@example.com"]
    assert "every session was signed out" in mail.outbox[0].body

    # Running again (a doubled beat, a retry) does nothing more.
    mail.outbox.clear()
    assert apply_due_mfa_resets() == 0
    assert recovery.apply_mfa_reset(reset_id=reset.pk) is False
    assert AuditEvent.objects.filter(action="mfa.reset").count() == 1
    assert mail.outbox == []


def test_the_link_of_an_applied_reset_says_it_already_happened(person):
    schedule_in_admin(superuser_client(), person)
    path = cancel_path(mail.outbox[0])
    make_due(MFAReset.objects.get(user=person))
    apply_due_mfa_resets()

    page = Client().post(path)

    assert page.status_code == 409
    assert "already taken effect" in page.content.decode()
    assert Client().get(path).status_code == 409


def test_after_the_reset_the_person_signs_in_and_enrolls_again(person):
    person.mfa_required = True
    person.save(update_fields=["mfa_required"])
    schedule_in_admin(superuser_client(), person)
    make_due(MFAReset.objects.get(user=person))
    apply_due_mfa_resets()

    client = Client()
    response = password_step(client, person)

    # No second step any more; the account must have a factor, so it is sent to enroll.
    assert response["Location"] == "/account/"
    assert is_logged_in(client, person)
    assert client.get("/account/")["Location"].startswith("/account/security/")
    client.get("/account/security/totp/")
    device = TOTPDevice.objects.get(user=person, confirmed=False)
    enrolled = client.post(
        "/account/security/totp/", {"device": device.pk, "code": totp_now(device), "name": ""}
    )
    assert enrolled.status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/account/").status_code == 200


# --- The person, from the second step ---------------------------------------------------------


def test_the_person_who_lost_their_factors_asks_from_the_second_step(person, settings):
    settings.GATEHOUSE_MFA_RESET_WAIT_HOURS = 48
    client = Client()
    assert password_step(client, person)["Location"] == "/accounts/2fa/"
    assert 'href="/accounts/2fa/lost/"' in client.get("/accounts/2fa/").content.decode()

    explained = client.get("/accounts/2fa/lost/")
    assert explained.status_code == 200
    assert "48 hours" in explained.content.decode()
    assert not MFAReset.objects.exists()

    done = client.post("/accounts/2fa/lost/")

    assert done.status_code == 200
    assert 'id="reset-due"' in done.content.decode()
    reset = MFAReset.objects.get(user=person)
    assert reset.via == MFAReset.Via.SELF
    assert reset.reason == ""
    assert factors_of(person) == {"totp": True, "backup_codes": True}
    event = AuditEvent.objects.get(action="mfa.reset_requested")
    assert event.actor == person
    assert event.data["proof"] == "password"
    assert sorted(m.to[0] for m in mail.outbox) == ["pat.work@example.org", "pat@example.com"]
    assert "asked for" in mail.outbox[0].body
    # The half-done login is over: nobody is signed in, the second step is gone.
    assert not is_logged_in(client, person)
    assert client.get("/accounts/2fa/")["Location"] == "/accounts/login/"

    # Asking again from a new login keeps the one reset and sends nothing more.
    mail.outbox.clear()
    again = Client()
    password_step(again, person)
    assert "already scheduled" in again.get("/accounts/2fa/lost/").content.decode()
    again.post("/accounts/2fa/lost/")
    assert MFAReset.objects.count() == 1
    assert mail.outbox == []


def test_a_reset_link_that_logs_in_is_proof_enough_and_is_recorded_as_such(person, settings):
    from tests.accounts.test_password import follow_to_form, reset_link

    settings.ACCOUNT_LOGIN_ON_PASSWORD_RESET = True
    client = Client()
    form_path = follow_to_form(client, reset_link(client, person.email))
    new_password = "cobalt-Meadow-signal-58"
    response = client.post(form_path, {"password1": new_password, "password2": new_password})
    assert response["Location"] == "/accounts/2fa/"

    client.post("/accounts/2fa/lost/")

    event = AuditEvent.objects.get(action="mfa.reset_requested")
    assert event.data["proof"] == "password_reset"


def test_the_person_may_ask_only_a_few_times_a_day(person):
    """Someone with the password whose every request is cancelled cannot flood the account's
    mailboxes with notices."""
    for _ in range(recovery.SELF_REQUESTS_PER_DAY):
        client = Client()
        password_step(client, person)
        client.post("/accounts/2fa/lost/")
        reset = MFAReset.objects.get(user=person, status=MFAReset.Status.PENDING)
        recovery.cancel_mfa_reset(reset=reset, how="link")
    mail.outbox.clear()
    client = Client()
    password_step(client, person)

    refused = client.post("/accounts/2fa/lost/")

    assert refused.status_code == 429
    assert "too many times today" in refused.content.decode()
    assert not MFAReset.objects.filter(status=MFAReset.Status.PENDING).exists()
    assert mail.outbox == []
    # Support can still schedule one.
    schedule_in_admin(superuser_client(), person)
    assert MFAReset.objects.filter(status=MFAReset.Status.PENDING).exists()


def test_nobody_asks_without_passing_the_first_step(person):
    visitor = Client()

    assert visitor.get("/accounts/2fa/lost/")["Location"] == "/accounts/login/"
    assert visitor.post("/accounts/2fa/lost/")["Location"] == "/accounts/login/"
    assert not MFAReset.objects.exists()


def test_the_person_signed_in_sees_the_pending_reset_and_cancels_it(person):
    schedule_in_admin(superuser_client(), person)
    client = sign_in_with_the_app(person)
    page = client.get("/account/security/").content.decode()
    assert 'id="mfa-reset-pending"' in page
    assert "Support scheduled it." in page

    response = client.post("/account/security/reset/cancel/")

    assert response["Location"] == "/account/security/"
    reset = MFAReset.objects.get(user=person)
    assert reset.status == MFAReset.Status.CANCELLED
    event = AuditEvent.objects.get(action="mfa.reset_cancelled")
    assert event.actor == person
    assert event.data["how"] == "security_page"
    assert 'id="mfa-reset-pending"' not in client.get("/account/security/").content.decode()


def test_cancel_notices_and_scheduled_notices_name_the_date(person):
    schedule_in_admin(superuser_client(), person)
    reset = MFAReset.objects.get(user=person)
    [message, *_] = mail.outbox
    day = f"{reset.due_at:%d}".lstrip("0")
    assert re.search(rf"\b{day} \w+ {reset.due_at:%Y}", str(message.subject))
    assert isinstance(message, EmailMultiAlternatives)
    html = str(message.alternatives[0][0])
    assert "Cancel the reset" in html
    assert cancel_path(message) in html


def test_a_negative_waiting_period_is_refused_at_start_up():
    from tests.config.test_settings import PRODUCTION, boot

    result = boot({**PRODUCTION, "MFA_RESET_WAIT_HOURS": "-1"})

    assert result.returncode != 0
    assert "MFA_RESET_WAIT_HOURS must be 0 or more." in result.stderr
    assert boot({**PRODUCTION, "MFA_RESET_WAIT_HOURS": "0"}).returncode == 0


def test_beat_runs_the_job_that_applies_due_resets():
    from config.beat_schedule import CELERY_BEAT_SCHEDULE
    from config.celery import app

    entry = CELERY_BEAT_SCHEDULE["apply-due-mfa-resets"]
    assert entry["task"] == apply_due_mfa_resets.name
    assert entry["task"] in app.tasks
    schedule = entry["schedule"]
    assert isinstance(schedule, float)
    assert schedule <= 3600
