"""The second step of a login: every way in asks for it, codes work once, guesses slow down."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone

from accounts.mfa.services import enrollment, verification
from accounts.models import BackupCode, BackupCodeDevice
from audit.models import AuditEvent
from tests.accounts.mfa_helpers import (
    enroll_email,
    enroll_totp,
    is_logged_in,
    password_step,
    totp_now,
)
from tests.accounts.test_login_code import code_from, request_code
from tests.accounts.test_password import follow_to_form, reset_link

NEW_PASSWORD = "a brand new passphrase 42"


def post_code(client: Client, kind: str, code: str):
    return client.post("/accounts/2fa/", {"kind": kind, "code": code})


def backup_codes_for(user) -> list[str]:
    return enrollment.regenerate_backup_codes(user=user)


# --- Every way in -----------------------------------------------------------------------------


def test_user_without_a_factor_is_not_asked(client, user):
    response = password_step(client, user)
    assert response["Location"] == "/account/"
    assert is_logged_in(client, user)


def test_password_login_stops_at_the_second_step_until_the_code_is_given(client, user):
    device = enroll_totp(user)

    response = password_step(client, user)

    assert response["Location"] == "/accounts/2fa/"
    assert not is_logged_in(client, user)
    assert client.get("/account/")["Location"].startswith("/accounts/login/")
    page = client.get("/accounts/2fa/")
    assert page.status_code == 200
    assert b'name="code"' in page.content

    response = post_code(client, "totp", totp_now(device))

    assert response["Location"] == "/account/"
    assert is_logged_in(client, user)
    assert client.get("/account/").status_code == 200
    event = AuditEvent.objects.get(action="login.succeeded")
    assert (event.data["method"], event.data["second_factor"]) == ("password", "totp")
    verified = AuditEvent.objects.get(action="mfa.verified")
    assert verified.data["kind"] == "totp"
    assert verified.data["purpose"] == "login"


def test_login_by_emailed_code_also_needs_the_second_factor(client, user):
    device = enroll_totp(user)
    request_code(client, user.email)
    response = client.post("/accounts/login/code/confirm/", {"code": code_from(mail.outbox[0])})

    assert response["Location"] == "/accounts/2fa/"
    assert not is_logged_in(client, user)
    # An emailed second code would prove the same mailbox twice: not offered here.
    page = client.get("/accounts/2fa/")
    assert b'value="email"' not in page.content

    assert post_code(client, "totp", totp_now(device))["Location"] == "/account/"
    assert is_logged_in(client, user)


def test_email_code_is_refused_as_second_step_after_an_emailed_login_code(client, user):
    enroll_email(user)
    enroll_totp(user)
    request_code(client, user.email)
    client.post("/accounts/login/code/confirm/", {"code": code_from(mail.outbox[0])})
    mail.outbox.clear()

    response = client.post("/accounts/2fa/email/")

    assert response.status_code == 302
    assert mail.outbox == []


def test_a_password_reset_does_not_skip_the_second_factor(client, user, settings):
    device = enroll_totp(user)
    form_path = follow_to_form(client, reset_link(client, user.email))
    client.post(form_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert not is_logged_in(client, user)

    response = password_step(client, user, NEW_PASSWORD)

    assert response["Location"] == "/accounts/2fa/"
    assert not is_logged_in(client, user)
    assert post_code(client, "totp", totp_now(device))["Location"] == "/account/"


def test_reset_that_logs_in_still_stops_at_the_second_step(client, user, settings):
    settings.ACCOUNT_LOGIN_ON_PASSWORD_RESET = True
    enroll_totp(user)
    form_path = follow_to_form(client, reset_link(client, user.email))

    response = client.post(form_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert response["Location"] == "/accounts/2fa/"
    assert not is_logged_in(client, user)


def test_email_codes_are_not_offered_after_a_reset_that_logs_in(client, user, settings):
    settings.ACCOUNT_LOGIN_ON_PASSWORD_RESET = True
    enroll_email(user)
    form_path = follow_to_form(client, reset_link(client, user.email))
    client.post(form_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    mail.outbox.clear()

    # The reset link came from the mailbox: a code from the same mailbox proves nothing more.
    assert b'value="email"' not in client.get("/accounts/2fa/").content
    client.post("/accounts/2fa/email/")
    assert mail.outbox == []
    assert not is_logged_in(client, user)


def test_social_login_also_stops_at_the_second_step(rf, user, settings):
    from allauth.core.context import request_context
    from allauth.socialaccount.helpers import complete_social_login
    from allauth.socialaccount.models import SocialAccount
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.messages.middleware import MessageMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware

    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "APPS": [
                {
                    "provider_id": "testidp",
                    "name": "Test IdP",
                    "client_id": "gatehouse",
                    "secret": "not-used",
                    "settings": {"server_url": "https://idp.invalid"},
                }
            ]
        }
    }
    enroll_totp(user)
    SocialAccount.objects.create(user=user, provider="testidp", uid="subject-1")
    request = rf.get("/accounts/oidc/testidp/login/callback/")
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    MessageMiddleware(lambda r: HttpResponse()).process_request(request)
    request.user = AnonymousUser()
    with request_context(request):
        from allauth.socialaccount.adapter import get_adapter

        provider = get_adapter(request).get_provider(request, "testidp")
        # Gatehouse's OIDC provider takes the subject from the verified ID token.
        sociallogin = provider.sociallogin_from_response(
            request, {"id_token": {"sub": "subject-1"}}
        )
        sociallogin.state = {"process": "login"}
        response = complete_social_login(request, sociallogin)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/"
    assert "_auth_user_id" not in request.session


# --- The half-logged-in state -----------------------------------------------------------------


def test_the_second_step_expires(client, user, settings):
    device = enroll_totp(user)
    password_step(client, user)
    later = __import__("time").time() + settings.ACCOUNT_LOGIN_TIMEOUT + 1

    with mock.patch("time.time", return_value=later):
        response = post_code(client, "totp", totp_now(device))

    assert response["Location"] == "/accounts/login/"
    assert not is_logged_in(client, user)


def test_logout_clears_the_half_finished_login(client, user):
    device = enroll_totp(user)
    password_step(client, user)

    client.post("/accounts/logout/")

    assert client.get("/accounts/2fa/")["Location"] == "/accounts/login/"
    assert post_code(client, "totp", totp_now(device))["Location"] == "/accounts/login/"
    assert not is_logged_in(client, user)


def test_the_page_asked_for_before_login_is_kept(client, user):
    device = enroll_totp(user)
    password_step(client, user, next_url="/account/sessions/")
    assert post_code(client, "totp", totp_now(device))["Location"] == "/account/sessions/"


def test_second_step_page_without_a_pending_login_sends_to_login(client):
    assert client.get("/accounts/2fa/")["Location"] == "/accounts/login/"
    assert client.post("/accounts/2fa/email/")["Location"] == "/accounts/login/"


# --- Wrong codes --------------------------------------------------------------------------------


def test_wrong_code_is_refused_audited_and_slows_down(client, user):
    device = enroll_totp(user)
    password_step(client, user)
    right = totp_now(device)
    wrong = "000000" if right != "000000" else "111111"

    response = post_code(client, "totp", wrong)

    assert response.status_code == 400
    assert not is_logged_in(client, user)
    assert AuditEvent.objects.filter(action="mfa.failed", outcome="failure").count() == 1
    # At once afterwards, even the right code is refused: the device waits 1 s, then 2, 4...
    response = post_code(client, "totp", right)
    assert response.status_code == 429
    assert b"Try again in" in response.content
    assert AuditEvent.objects.filter(action="mfa.throttled").count() == 1
    device.refresh_from_db()
    assert device.throttling_failure_count == 1

    soon = timezone.now() + timedelta(seconds=2)
    with mock.patch("django.utils.timezone.now", return_value=soon):
        assert post_code(client, "totp", wrong).status_code == 400
        device.refresh_from_db()
        assert device.throttling_failure_count == 2
        # Now the wait is 2 s.
        assert post_code(client, "totp", right).status_code == 429
    later = timezone.now() + timedelta(seconds=5)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert post_code(client, "totp", right)["Location"] == "/account/"
    device.refresh_from_db()
    assert device.throttling_failure_count == 0


def test_a_totp_code_works_once(client, user):
    device = enroll_totp(user)
    code = totp_now(device)
    password_step(client, user)
    assert post_code(client, "totp", code)["Location"] == "/account/"

    other = Client()
    password_step(other, user)
    assert post_code(other, "totp", code).status_code == 400
    assert not is_logged_in(other, user)


@pytest.mark.parametrize(
    "junk", ["", " ", "x" * 5000, "١٢٣٤٥٦", "12 34 56 78 90 12", "\x00", "<script>"]
)
def test_junk_codes_are_form_errors(client, user, junk):
    enroll_totp(user)
    password_step(client, user)
    for kind in ("totp", "backup_code", "nonsense"):
        response = client.post("/accounts/2fa/", {"kind": kind, "code": junk})
        assert response.status_code in (400, 429)
    assert not is_logged_in(client, user)


# --- Backup codes -------------------------------------------------------------------------------


def test_backup_code_logs_in_once_and_tells_the_user(client, user):
    enroll_totp(user)
    codes = backup_codes_for(user)
    stored = list(BackupCode.objects.values_list("code_hash", flat=True))
    assert len(stored) == 10
    # What is stored is the salted hash of each code shown, and nothing else.
    device = BackupCodeDevice.objects.get(user=user)
    assert set(stored) == {device.hash_code(code) for code in codes}
    password_step(client, user)
    mail.outbox.clear()

    # Typed in lower case with spaces: still the code.
    response = post_code(client, "backup_code", codes[3].lower().replace("-", " "))

    assert response["Location"] == "/account/"
    used = AuditEvent.objects.get(action="mfa.backup_code_used")
    assert used.data == {"purpose": "login", "left": 9}
    [notice] = mail.outbox
    assert notice.to == [user.email]
    assert "9" in notice.body

    again = Client()
    password_step(again, user)
    assert post_code(again, "backup_code", codes[3]).status_code == 400
    assert not is_logged_in(again, user)


def test_backup_codes_alone_do_not_make_a_second_step(client, user):
    backup_codes_for(user)
    assert password_step(client, user)["Location"] == "/account/"


# --- Email codes --------------------------------------------------------------------------------


def email_code(message) -> str:
    match = re.search(r"\b(\d{6})\b", message.body)
    assert match, message.body
    return match.group(1)


def test_email_code_as_second_step_with_cooldown(client, user):
    enroll_email(user)
    password_step(client, user)
    mail.outbox.clear()

    assert client.post("/accounts/2fa/email/").status_code == 302
    [message] = mail.outbox
    assert message.to == [user.email]
    code = email_code(message)
    # A second request within the cooldown sends nothing, and is audited.
    client.post("/accounts/2fa/email/")
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action="mfa.email_code_refused").count() == 1

    assert post_code(client, "email", code)["Location"] == "/account/"
    assert is_logged_in(client, user)
    # The code is spent.
    other = Client()
    password_step(other, user)
    assert post_code(other, "email", code).status_code == 400


def test_email_codes_cannot_bomb_an_inbox(user, settings):
    enroll_email(user)
    sent = 0
    start = timezone.now()
    for minute in range(30):
        client = Client()
        password_step(client, user)
        at = start + timedelta(minutes=minute * 2)
        with mock.patch("django.utils.timezone.now", return_value=at):
            mail.outbox.clear()
            client.post("/accounts/2fa/email/")
            sent += len(mail.outbox)
    # One a minute at most by the cooldown, and five an hour per user by the rate limit.
    assert 1 <= sent <= 5


def test_expired_email_code_is_refused(client, user, settings):
    enroll_email(user)
    password_step(client, user)
    client.post("/accounts/2fa/email/")
    code = email_code(mail.outbox[-1])

    later = timezone.now() + timedelta(seconds=settings.OTP_EMAIL_TOKEN_VALIDITY + 1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert post_code(client, "email", code).status_code == 400


def test_service_refuses_unknown_kinds(user):
    device, reason = verification.verify_second_factor(
        user=user, kind="sms", code="123456", purpose="login", signed_in=False
    )
    assert device is None
    assert reason == "unavailable"


def test_a_notice_says_where_the_change_came_from_with_links_on_the_public_address(user, settings):
    settings.GATEHOUSE_PUBLIC_URL = "https://id.example.test"
    enroll_totp(user)
    codes = backup_codes_for(user)
    device = BackupCodeDevice.objects.get(user=user)
    # Three codes left, so the notice of the next one used links to the Security page.
    BackupCode.objects.exclude(code_hash__in=[device.hash_code(c) for c in codes[:3]]).update(
        used_at=timezone.now()
    )
    client = Client(REMOTE_ADDR="198.51.100.23", HTTP_USER_AGENT="NoticeTest/1.0")
    password_step(client, user)
    mail.outbox.clear()

    assert post_code(client, "backup_code", codes[0])["Location"] == "/account/"

    [notice] = mail.outbox
    assert "198.51.100.23" in notice.body
    assert "NoticeTest/1.0" in notice.body
    assert "https://id.example.test/account/security/" in notice.body
