"""Junk sent to every form Gatehouse serves gets a clear answer: never a 500, never a write."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import OutboundEmail, User
from tests.factories import DEFAULT_PASSWORD

JUNK_VALUES = [
    "",
    " ",
    "\x00",
    "a\x00b@example.com",
    "😀@example.com",
    "x" * 5000,
    "<script>alert(1)</script>@example.com",
    "ada@example.com\r\nBcc: victim@example.com",
    "'; DROP TABLE accounts_user; --",
    "ǅemo@ÉXAMPLE.com",
]

ANONYMOUS_FORMS = {
    "/accounts/signup/": ("email", "password1"),
    "/accounts/login/": ("login", "password"),
    "/accounts/login/code/": ("email",),
    "/accounts/password/reset/": ("email",),
}

SIGNED_IN_FORMS = {
    "/account/": ("display_name",),
    "/account/sessions/": ("action", "session"),
    "/account/password/": ("oldpassword", "password1", "password2"),
    "/account/email/": ("email", "action_add"),
    "/accounts/reauthenticate/": ("password",),
    "/account/security/verify/": ("kind", "password", "code", "next"),
    "/account/security/totp/": ("device", "code", "name", "next"),
    "/account/security/totp/1/rename/": ("name",),
    "/account/security/email/": ("next",),
    "/account/security/backup-codes/": ("next",),
}


def _post_all(client: Client, forms: dict[str, tuple[str, ...]]) -> None:
    for path, fields in forms.items():
        for value in JUNK_VALUES:
            response = client.post(path, dict.fromkeys(fields, value))
            assert response.status_code < 500, (path, value, response.status_code)


def test_anonymous_forms_survive_junk():
    users_before = User.objects.count()
    _post_all(Client(), ANONYMOUS_FORMS)
    assert User.objects.count() == users_before
    # The only emails queued are the enumeration-safe "unknown account" notices, and never
    # to an address that smuggles in a header.
    assert not OutboundEmail.objects.filter(to__contains="\n").exists()


def test_signed_in_forms_survive_junk(logged_in_client, user):
    _post_all(logged_in_client, SIGNED_IN_FORMS)
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_X_FORWARDED_FOR": "not-an-ip, also-not"},
        {"HTTP_USER_AGENT": "x" * 10_000},
        {"HTTP_X_REQUEST_ID": "\x00" * 50},
        {"HTTP_COOKIE": "sessionid=" + "A" * 4000 + "; csrftoken=broken"},
        {"REMOTE_ADDR": "not-an-address"},
    ],
)
def test_odd_headers_on_login_are_not_a_500(headers):
    response = Client(**headers).post(
        "/accounts/login/", {"login": "ada@example.com", "password": "whatever-1234"}
    )
    assert response.status_code < 500


@pytest.mark.parametrize("forwarded", ["garbage", "", " , ", "1.2.3.4, 5.6.7.8, junk", "::1"])
def test_forwarded_for_junk_behind_a_proxy_is_not_a_500(settings, forwarded):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    response = Client(HTTP_X_FORWARDED_FOR=forwarded).post(
        "/accounts/login/", {"login": "ada@example.com", "password": "whatever-1234"}
    )
    assert response.status_code < 500


def test_second_step_forms_survive_junk(user):
    from tests.accounts.mfa_helpers import enroll_totp, password_step

    enroll_totp(user)
    client = Client()
    assert password_step(client, user)["Location"] == "/accounts/2fa/"
    _post_all(client, {"/accounts/2fa/": ("kind", "code"), "/accounts/2fa/email/": ("code",)})
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/passkey/begin/",
        "/accounts/passkey/complete/",
        "/accounts/2fa/passkey/begin/",
        "/accounts/2fa/passkey/complete/",
        "/account/security/verify/passkey/begin/",
        "/account/security/verify/passkey/complete/",
        "/webauthn/registration/begin/",
        "/webauthn/registration/complete/",
    ],
)
def test_passkey_endpoints_answer_junk_with_json_errors(path):
    client = Client()
    for body, content_type in [
        ("{", "application/json"),
        ("[1,2]", "application/json"),
        ("x" * 5000, "text/plain"),
        ("", "application/json"),
    ]:
        response = client.post(path, body, content_type=content_type)
        assert response.status_code < 500, (path, body[:10], response.status_code)
