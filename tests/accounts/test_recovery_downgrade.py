"""An account with a passkey or an authenticator app is not downgraded by its mailbox.

Whoever holds the mailbox can reset the password, sign in by emailed code and receive an
address change's verification: after each of these the strong factor is still asked for, and an
emailed second-factor code is never offered nor accepted instead. Each way in is tried with an
authenticator app and with a passkey, on an account that also has emailed codes turned on
(which the pages allow only before the strong factor)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.core import mail
from django.test import Client
from django_otp.plugins.otp_email.models import EmailDevice

from tests.accounts.authenticator import SoftAuthenticator
from tests.accounts.mfa_helpers import (
    enroll_email,
    enroll_totp,
    is_logged_in,
    password_step,
    unused_totp,
)
from tests.accounts.test_login_code import code_from, request_code
from tests.accounts.test_password import follow_to_form, reset_link
from tests.conftest import links_in, path_of

ORIGIN = "http://localhost:8000"
NEW_PASSWORD = "umber-Kettle-harbour-97"

Finisher = Callable[[Client], None]


@pytest.fixture(autouse=True)
def _relying_party(settings):
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [ORIGIN]


def post_json(client: Client, url: str, data=None):
    return client.post(url, json.dumps(data or {}), content_type="application/json")


def _with_totp(user) -> Finisher:
    device = enroll_totp(user)

    def finish(client: Client) -> None:
        response = client.post("/accounts/2fa/", {"kind": "totp", "code": unused_totp(device)})
        assert response.status_code == 302, response.content[:500]

    return finish


def _with_passkey(user) -> Finisher:
    authenticator = SoftAuthenticator(ORIGIN)
    client = Client()
    assert password_step(client, user).status_code == 302  # no factor yet: signed in
    options = post_json(client, "/webauthn/registration/begin/").json()
    created = authenticator.create(options)
    registered = post_json(client, "/webauthn/registration/complete/", created)
    assert registered.status_code == 200, registered.content

    def finish(client: Client) -> None:
        options = post_json(client, "/accounts/2fa/passkey/begin/").json()
        response = post_json(client, "/accounts/2fa/passkey/complete/", authenticator.get(options))
        assert response.status_code == 200, response.content

    return finish


@pytest.fixture(params=["totp", "passkey"])
def strong(request, user) -> Finisher:
    """``user`` with a strong factor and emailed codes; returns what finishes the second step
    with the strong factor."""
    finish = _with_totp(user) if request.param == "totp" else _with_passkey(user)
    enroll_email(user)
    mail.outbox.clear()  # the notice of the new passkey
    return finish


def assert_email_codes_refused(client: Client, user) -> None:
    """At the second step: no email option, nothing sent when asked, a code refused."""
    page = client.get("/accounts/2fa/")
    assert page.status_code == 200
    assert b'value="email"' not in page.content
    mail.outbox.clear()
    client.post("/accounts/2fa/email/")
    assert mail.outbox == []
    # Even a valid code the device issued some other way does not pass.
    device = EmailDevice.objects.get(user=user)
    device.generate_token(valid_secs=300)
    refused = client.post("/accounts/2fa/", {"kind": "email", "code": device.token})
    assert refused.status_code == 400
    assert not is_logged_in(client, user)
    assert client.get("/account/")["Location"].startswith("/accounts/login/")


def assert_strong_factor_finishes(client: Client, user, finish: Finisher) -> None:
    finish(client)
    assert is_logged_in(client, user)


def test_password_reset_then_password_login_still_needs_the_strong_factor(client, user, strong):
    form_path = follow_to_form(client, reset_link(client, user.email))
    client.post(form_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert not is_logged_in(client, user)

    assert password_step(client, user, NEW_PASSWORD)["Location"] == "/accounts/2fa/"

    assert_email_codes_refused(client, user)
    assert_strong_factor_finishes(client, user, strong)


def test_reset_that_logs_in_still_needs_the_strong_factor(client, user, strong, settings):
    settings.ACCOUNT_LOGIN_ON_PASSWORD_RESET = True
    form_path = follow_to_form(client, reset_link(client, user.email))

    response = client.post(form_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert response["Location"] == "/accounts/2fa/"
    assert_email_codes_refused(client, user)
    assert_strong_factor_finishes(client, user, strong)


def test_login_by_emailed_code_still_needs_the_strong_factor(client, user, strong):
    request_code(client, user.email)
    [message] = mail.outbox

    response = client.post("/accounts/login/code/confirm/", {"code": code_from(message)})

    assert response["Location"] == "/accounts/2fa/"
    assert_email_codes_refused(client, user)
    assert_strong_factor_finishes(client, user, strong)


def _change_primary_email(user, finish: Finisher, new_email: str) -> None:
    """Change the address through the pages: sign in with both factors, ask for the change
    (just signed in with the strong factor, so no step-up), verify the new address."""
    client = Client()
    password_step(client, user)
    finish(client)
    assert is_logged_in(client, user)
    mail.outbox.clear()
    assert client.post("/account/email/", {"action_add": "", "email": new_email}).status_code == 302
    [verification] = mail.outbox
    [link] = [link for link in links_in(verification) if "/confirm-email/" in link]
    assert client.post(path_of(link)).status_code == 302
    user.refresh_from_db()
    assert user.email == new_email


def test_after_changing_the_primary_email_the_strong_factor_is_still_needed(user, strong):
    new_email = "moved.elsewhere@example.com"
    _change_primary_email(user, strong, new_email)

    by_password = Client()
    response = by_password.post("/accounts/login/", {"login": new_email, "password": "x"})
    assert not is_logged_in(by_password, user)  # a wrong password is still wrong
    response = password_step(by_password, user)
    assert response["Location"] == "/accounts/2fa/"
    assert_email_codes_refused(by_password, user)
    assert_strong_factor_finishes(by_password, user, strong)

    # The new mailbox's login code and reset link do not skip the factor either.
    by_code = Client()
    mail.outbox.clear()
    request_code(by_code, new_email)
    [message] = mail.outbox
    assert message.to == [new_email]
    response = by_code.post("/accounts/login/code/confirm/", {"code": code_from(message)})
    assert response["Location"] == "/accounts/2fa/"
    assert_email_codes_refused(by_code, user)

    by_reset = Client()
    mail.outbox.clear()
    form_path = follow_to_form(by_reset, reset_link(by_reset, new_email))
    by_reset.post(form_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert password_step(by_reset, user, NEW_PASSWORD)["Location"] == "/accounts/2fa/"
    assert_email_codes_refused(by_reset, user)


def test_the_second_step_says_why_email_codes_are_missing_only_after_a_mailbox_login(client, user):
    enroll_email(user)
    enroll_totp(user)
    password_step(client, user)
    note = "You signed in with an emailed code"
    assert note not in client.get("/accounts/2fa/").content.decode()

    other = Client()
    request_code(other, user.email)
    other.post("/accounts/login/code/confirm/", {"code": code_from(mail.outbox[-1])})
    assert note in other.get("/accounts/2fa/").content.decode()
