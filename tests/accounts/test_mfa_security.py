"""/account/security/: enrolling and removing factors, backup codes, step-up, required MFA."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import BackupCode, BackupCodeDevice
from audit.models import AuditEvent
from tests.accounts.mfa_helpers import enroll_totp, is_logged_in, password_step, totp_now
from tests.accounts.test_mfa_login import email_code
from tests.factories import DEFAULT_PASSWORD, UserFactory

SECURITY = "/account/security/"
STEPUP = "/account/security/verify/"


def secret_on(page) -> str:
    match = re.search(rb'data-totp-secret="([A-Z2-7]+)"', page.content)
    assert match, page.content[:2000]
    return match.group(1).decode()


def device_on(page) -> str:
    match = re.search(rb'name="device" value="(\d+)"', page.content)
    assert match, page.content[:2000]
    return match.group(1).decode()


def code_for_secret(secret: str, steps_ahead: int = 0) -> str:
    import time

    import pyotp

    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def step_up(client: Client, device) -> None:
    """Confirm it is the user with their authenticator app (they just enrolled one)."""
    response = client.post(STEPUP, {"kind": "totp", "code": totp_now(device)})
    assert response.status_code == 302, response.content[:500]


def enroll_totp_through_the_page(client: Client, name: str = "My phone"):
    page = client.get(f"{SECURITY}totp/")
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert b"<svg" in page.content  # the QR code, drawn by the server
    secret = secret_on(page)
    device_id = device_on(page)
    response = client.post(
        f"{SECURITY}totp/",
        {"device": device_id, "code": code_for_secret(secret), "name": name},
    )
    return response, secret


def test_enrolling_an_authenticator_app_needs_a_right_code_and_gives_backup_codes(
    logged_in_client, user
):
    page = logged_in_client.get(f"{SECURITY}totp/")
    secret = secret_on(page)
    device_id = device_on(page)
    assert TOTPDevice.objects.get(pk=device_id).confirmed is False

    wrong = logged_in_client.post(
        f"{SECURITY}totp/", {"device": device_id, "code": "000000", "name": "x"}
    )
    assert wrong.status_code == 400
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    mail.outbox.clear()

    # After a wrong code the setup waits a second before the next try.
    with mock.patch(
        "django.utils.timezone.now", return_value=timezone.now() + timedelta(seconds=2)
    ):
        response = logged_in_client.post(
            f"{SECURITY}totp/",
            {"device": device_id, "code": code_for_secret(secret, 1), "name": "Work phone"},
        )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    codes = re.findall(
        rb'class="backup-code[^"]*"[^>]*>\s*([0-9A-Z]{5}-[0-9A-Z]{5})', response.content
    )
    assert len(codes) == 10
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    assert device.name == "Work phone"
    assert AuditEvent.objects.filter(action="mfa.device_added", data__kind="totp").exists()
    assert AuditEvent.objects.filter(action="mfa.backup_codes_generated").exists()
    [notice] = mail.outbox
    assert notice.to == [user.email]
    assert "Work phone" in notice.body
    # The next login asks for it.
    client = Client()
    assert password_step(client, user)["Location"] == "/accounts/2fa/"


def test_an_unconfirmed_setup_counts_for_nothing(logged_in_client, user):
    logged_in_client.get(f"{SECURITY}totp/")
    assert TOTPDevice.objects.filter(user=user, confirmed=False).count() == 1
    assert password_step(Client(), user)["Location"] == "/account/"


def test_changes_need_a_recent_strong_authentication(logged_in_client, user, settings):
    enroll_totp(user)
    settings.GATEHOUSE_STEPUP_MAX_AGE = 0

    for method, path in [
        ("get", f"{SECURITY}totp/"),
        ("post", f"{SECURITY}email/"),
        ("post", f"{SECURITY}backup-codes/"),
        ("post", f"{SECURITY}totp/1/remove/"),
        ("post", f"{SECURITY}totp/1/rename/"),
        ("get", "/account/email/"),
        ("get", "/account/password/"),
    ]:
        response = getattr(logged_in_client, method)(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(STEPUP), path
    assert EmailDevice.objects.count() == 0
    assert TOTPDevice.objects.filter(user=user).count() == 1


def test_step_up_asks_for_the_strongest_factor(logged_in_client, user, settings):
    device = enroll_totp(user)
    settings.GATEHOUSE_STEPUP_MAX_AGE = 0
    page = logged_in_client.get(f"{STEPUP}?next=/account/security/")
    assert b'name="password"' not in page.content, "a TOTP user does not step up by password"
    response = logged_in_client.post(
        f"{STEPUP}?next=/account/security/", {"kind": "password", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 400
    # An emailed code is weaker than the app: none is even sent.
    mail.outbox.clear()
    logged_in_client.post(f"{STEPUP}email/")
    assert mail.outbox == []
    assert not AuditEvent.objects.filter(action="mfa.email_code_sent").exists()

    settings.GATEHOUSE_STEPUP_MAX_AGE = 300
    response = logged_in_client.post(
        f"{STEPUP}?next=/account/security/", {"kind": "totp", "code": totp_now(device)}
    )
    assert response["Location"] == "/account/security/"
    assert logged_in_client.get(f"{SECURITY}totp/").status_code == 200
    assert AuditEvent.objects.filter(action="mfa.verified", data__purpose="stepup").exists()


def test_step_up_window_is_configurable(logged_in_client, user, settings):
    settings.GATEHOUSE_STEPUP_MAX_AGE = 0
    assert logged_in_client.post(f"{SECURITY}email/")["Location"].startswith(STEPUP)
    assert not EmailDevice.objects.filter(user=user).exists()
    settings.GATEHOUSE_STEPUP_MAX_AGE = 3600
    response = logged_in_client.post(f"{SECURITY}email/")
    assert response.status_code == 200  # on, and here are the backup codes
    assert EmailDevice.objects.filter(user=user, confirmed=True).exists()


def test_backup_codes_regenerate_and_old_ones_stop_working(logged_in_client, user):
    step_up(logged_in_client, enroll_totp(user))
    first = logged_in_client.post(f"{SECURITY}backup-codes/")
    old = re.findall(rb"([0-9A-Z]{5}-[0-9A-Z]{5})", first.content)
    second = logged_in_client.post(f"{SECURITY}backup-codes/")
    new = re.findall(rb"([0-9A-Z]{5}-[0-9A-Z]{5})", second.content)
    assert len(set(old)) == 10
    assert len(set(new)) == 10
    assert not set(old) & set(new)
    assert BackupCode.objects.filter(device__user=user).count() == 10

    client = Client()
    password_step(client, user)
    assert (
        client.post("/accounts/2fa/", {"kind": "backup_code", "code": old[0].decode()}).status_code
        == 400
    )
    with mock.patch(
        "django.utils.timezone.now", return_value=timezone.now() + timedelta(seconds=2)
    ):
        response = client.post("/accounts/2fa/", {"kind": "backup_code", "code": new[0].decode()})
    assert response["Location"] == "/account/"


def test_backup_codes_need_a_real_factor_first(logged_in_client, user):
    response = logged_in_client.post(f"{SECURITY}backup-codes/")
    assert response["Location"] == SECURITY
    assert not BackupCodeDevice.objects.filter(user=user).exists()


def test_removing_a_factor_notifies_and_removing_the_last_drops_backup_codes(
    logged_in_client, user
):
    device = enroll_totp(user)
    step_up(logged_in_client, device)
    logged_in_client.post(f"{SECURITY}backup-codes/")
    mail.outbox.clear()

    response = logged_in_client.post(f"{SECURITY}totp/{device.pk}/remove/")

    assert response["Location"] == SECURITY
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    assert not BackupCodeDevice.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(action="mfa.device_removed")
    assert event.data["kind"] == "totp"
    assert event.data["recovery_removed"] is True
    [notice] = mail.outbox
    assert notice.to == [user.email]
    assert password_step(Client(), user)["Location"] == "/account/"


def test_rename_shows_on_the_page(logged_in_client, user):
    device = enroll_totp(user)
    step_up(logged_in_client, device)
    logged_in_client.post(f"{SECURITY}totp/{device.pk}/rename/", {"name": "  Old   Pixel "})
    device.refresh_from_db()
    assert device.name == "Old Pixel"
    assert b"Old Pixel" in logged_in_client.get(SECURITY).content
    assert AuditEvent.objects.filter(action="mfa.device_renamed").exists()
    bad = logged_in_client.post(f"{SECURITY}totp/{device.pk}/rename/", {"name": "x" * 500})
    assert bad.status_code == 302
    device.refresh_from_db()
    assert device.name == "Old Pixel"


def test_nobody_can_touch_another_users_factor(logged_in_client, user):
    other = UserFactory()
    theirs = enroll_totp(other, name="Theirs")

    for path in (f"{SECURITY}totp/{theirs.pk}/remove/", f"{SECURITY}totp/{theirs.pk}/rename/"):
        response = logged_in_client.post(path, {"name": "mine now"})
        assert response.status_code == 302
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"
    assert b"Theirs" not in logged_in_client.get(SECURITY).content
    # Confirming someone else's pending setup fails too.
    pending = TOTPDevice.objects.create(user=other, confirmed=False)
    response = logged_in_client.post(
        f"{SECURITY}totp/", {"device": pending.pk, "code": "123456", "name": "x"}
    )
    pending.refresh_from_db()
    assert pending.confirmed is False
    assert response.status_code == 302


@pytest.mark.parametrize("kind", ["sms", "backup_code", "passkey", "password", "0", "%00"])
def test_odd_kinds_in_the_address_are_harmless(logged_in_client, kind):
    for action in ("remove", "rename"):
        response = logged_in_client.post(f"{SECURITY}{kind}/1/{action}/", {"name": "x"})
        assert response.status_code in (302, 404)


def test_security_page_lists_factors_without_secrets(logged_in_client, user):
    device = enroll_totp(user, name="Pixel")
    page = logged_in_client.get(SECURITY)
    assert page.status_code == 200
    assert b"Pixel" in page.content
    assert device.key.encode() not in page.content


# --- MFA required ---------------------------------------------------------------------


def test_required_mfa_forces_enrollment_before_anything_else(client, user):
    user.mfa_required = True
    user.save(update_fields=["mfa_required"])
    assert password_step(client, user)["Location"] == "/account/"

    for path in ("/account/", "/account/sessions/", "/account/email/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith(SECURITY), path
    assert AuditEvent.objects.filter(action="mfa.enrollment_required").count() == 1
    page = client.get(SECURITY)
    assert page.status_code == 200
    # Email codes alone do not satisfy the requirement.
    client.post(f"{SECURITY}email/")
    assert client.get("/account/")["Location"].startswith(SECURITY)

    response, _ = enroll_totp_through_the_page(client)
    assert response.status_code == 200
    assert client.get("/account/").status_code == 200
    # And the last app or passkey cannot be removed while it is required.
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    client.post(f"{SECURITY}totp/{device.pk}/remove/")
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_logout_stays_possible_while_enrollment_is_required(client, user):
    user.mfa_required = True
    user.save(update_fields=["mfa_required"])
    password_step(client, user)
    client.post("/accounts/logout/")
    assert not is_logged_in(client, user)


def test_an_account_without_a_password_steps_up_with_an_emailed_code(client, user, settings):
    user.set_unusable_password()
    user.save(update_fields=["password"])
    client.force_login(user)  # e.g. came in by social login: no record this session
    response = client.post(f"{SECURITY}email/")
    assert response["Location"].startswith(STEPUP)

    page = client.get(STEPUP)
    assert b'name="password"' not in page.content
    mail.outbox.clear()
    client.post(f"{STEPUP}email/", {"next": SECURITY})
    [message] = mail.outbox
    code = email_code(message)
    # The mailbox proves it is them; the code is not a second factor they enrolled.
    assert not EmailDevice.objects.filter(user=user, confirmed=True).exists()

    response = client.post(f"{STEPUP}?next={SECURITY}", {"kind": "email", "code": code})

    assert response["Location"] == SECURITY
    assert client.post(f"{SECURITY}email/").status_code == 200
    assert EmailDevice.objects.filter(user=user, confirmed=True).count() == 1


def test_an_email_code_user_steps_up_with_an_emailed_code(logged_in_client, user, settings):
    EmailDevice.objects.create(user=user, name="Email code", email=None, confirmed=True)
    settings.GATEHOUSE_STEPUP_MAX_AGE = 0
    assert logged_in_client.get(f"{SECURITY}totp/")["Location"].startswith(STEPUP)
    settings.GATEHOUSE_STEPUP_MAX_AGE = 300
    # The password is weaker than the factor they chose.
    response = logged_in_client.post(STEPUP, {"kind": "password", "password": DEFAULT_PASSWORD})
    assert response.status_code == 400
    mail.outbox.clear()
    logged_in_client.post(f"{STEPUP}email/")
    code = email_code(mail.outbox[-1])
    assert logged_in_client.post(STEPUP, {"kind": "email", "code": code}).status_code == 302
    assert logged_in_client.get(f"{SECURITY}totp/").status_code == 200


def test_step_up_refuses_an_unsafe_next(logged_in_client, user):
    response = logged_in_client.post(
        f"{STEPUP}?next=https://evil.example/", {"kind": "password", "password": DEFAULT_PASSWORD}
    )
    assert response["Location"] == SECURITY


def test_linking_or_unlinking_another_login_needs_a_step_up(rf, user, settings):
    from allauth.core.exceptions import ImmediateHttpResponse
    from django.contrib.sessions.middleware import SessionMiddleware

    from accounts.mfa.social import SocialAccountAdapter

    settings.GATEHOUSE_STEPUP_MAX_AGE = 0
    client = Client()
    password_step(client, user)
    response = client.get("/accounts/3rdparty/")
    assert response["Location"].startswith(STEPUP)

    request = rf.get("/accounts/oidc/testidp/login/callback/")
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    request.user = user
    sociallogin = mock.Mock(state={"process": "connect"})
    with pytest.raises(ImmediateHttpResponse) as refused:
        SocialAccountAdapter(request).pre_social_login(request, sociallogin)
    assert refused.value.response["Location"].startswith(STEPUP)
    # Logging in with a linked account is not a change: no step-up asked.
    sociallogin.state = {"process": "login"}
    SocialAccountAdapter(request).pre_social_login(request, sociallogin)


def test_email_codes_are_not_turned_on_beside_a_stronger_factor(logged_in_client, user):
    device = enroll_totp(user)
    step_up(logged_in_client, device)

    response = logged_in_client.post(f"{SECURITY}email/")

    assert response["Location"] == SECURITY
    assert not EmailDevice.objects.filter(user=user).exists()
    assert b"Not used" in logged_in_client.get(SECURITY).content
