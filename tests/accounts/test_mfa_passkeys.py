"""Passkeys: real WebAuthn ceremonies against a software authenticator, and their attacks."""

from __future__ import annotations

import json
import time
from unittest import mock

import pytest
from django.core import mail
from django.test import Client
from django_otp_webauthn.models import WebAuthnCredential

from audit.models import AuditEvent
from tests.accounts.authenticator import SoftAuthenticator
from tests.accounts.mfa_helpers import enroll_totp, is_logged_in, password_step
from tests.factories import UserFactory

ORIGIN = "http://localhost:8000"


@pytest.fixture(autouse=True)
def _relying_party(settings):
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [ORIGIN]


def post_json(client: Client, url: str, data=None):
    return client.post(url, json.dumps(data or {}), content_type="application/json")


def signed_in(user) -> Client:
    client = Client()
    assert password_step(client, user).status_code == 302
    return client


def register(user, authenticator: SoftAuthenticator, client: Client | None = None):
    client = client or signed_in(user)
    options = post_json(client, "/webauthn/registration/begin/").json()
    response = post_json(client, "/webauthn/registration/complete/", authenticator.create(options))
    assert response.status_code == 200, response.content
    return WebAuthnCredential.objects.get(pk=response.json()["id"])


def passwordless(client: Client, authenticator: SoftAuthenticator, **kwargs):
    options = post_json(client, "/accounts/passkey/begin/").json()
    assert options["userVerification"] == "required"
    assert options.get("allowCredentials", []) == []  # discoverable: the browser offers them
    return post_json(client, "/accounts/passkey/complete/", authenticator.get(options, **kwargs))


def test_registered_passkey_is_named_notified_and_audited(user):
    mail.outbox.clear()
    client = signed_in(user)
    credential = register(user, SoftAuthenticator(ORIGIN), client)

    assert credential.user == user
    assert credential.discoverable is True
    assert credential.name == "Passkey"
    assert AuditEvent.objects.filter(action="mfa.device_added", data__kind="passkey").exists()
    assert [m.to for m in mail.outbox] == [[user.email]]
    # Registering proved the new passkey: a second one can follow without a step-up.
    second = register(user, SoftAuthenticator(ORIGIN), client)
    assert second.name == "Passkey 2"


MAC_CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)


def test_a_passkey_is_named_after_the_browser_and_system_it_was_made_on(user):
    client = Client(HTTP_USER_AGENT=MAC_CHROME)
    assert password_step(client, user).status_code == 302

    first = register(user, SoftAuthenticator(ORIGIN), client)
    second = register(user, SoftAuthenticator(ORIGIN), client)
    client.defaults["HTTP_USER_AGENT"] = IPHONE_SAFARI  # the same session, another device
    third = register(user, SoftAuthenticator(ORIGIN), client)

    assert [first.name, second.name, third.name] == [
        "Chrome on macOS",
        "Chrome on macOS 2",
        "Safari on iPhone",
    ]
    assert AuditEvent.objects.filter(
        action="mfa.device_added", data__device="Chrome on macOS"
    ).exists()


def test_passkey_signs_in_without_a_password(user):
    authenticator = SoftAuthenticator(ORIGIN)
    credential = register(user, authenticator)
    client = Client()

    response = passwordless(client, authenticator)

    assert response.status_code == 200, response.content
    assert response.json()["redirect_url"] == "/account/"
    assert is_logged_in(client, user)
    assert client.get("/account/").status_code == 200
    credential.refresh_from_db()
    assert credential.last_used_at is not None
    event = AuditEvent.objects.filter(action="login.succeeded").latest("occurred_at")
    assert event.data["method"] == "passkey"


def test_passkey_login_skips_the_second_step_even_with_totp(user):
    authenticator = SoftAuthenticator(ORIGIN)
    register(user, authenticator)
    enroll_totp(user)
    client = Client()
    assert passwordless(client, authenticator).json()["redirect_url"] == "/account/"
    assert is_logged_in(client, user)


def test_passkey_as_the_second_step(user):
    authenticator = SoftAuthenticator(ORIGIN)
    register(user, authenticator)
    client = Client()
    assert password_step(client, user)["Location"] == "/accounts/2fa/"

    options = post_json(client, "/accounts/2fa/passkey/begin/").json()
    assert len(options["allowCredentials"]) == 1  # only this user's credentials
    response = post_json(client, "/accounts/2fa/passkey/complete/", authenticator.get(options))

    assert response.status_code == 200, response.content
    assert response.json()["redirect_url"] == "/account/"
    assert is_logged_in(client, user)


def test_wrong_origin_is_rejected(user):
    authenticator = SoftAuthenticator(ORIGIN)
    register(user, authenticator)
    client = Client()

    response = passwordless(client, authenticator, origin="https://evil.example")

    assert response.status_code == 422
    assert not is_logged_in(client, user)
    assert AuditEvent.objects.filter(action="mfa.failed", data__kind="passkey").exists()


def test_replayed_assertion_is_rejected(user):
    authenticator = SoftAuthenticator(ORIGIN)
    register(user, authenticator)
    first = Client()
    options = post_json(first, "/accounts/passkey/begin/").json()
    assertion = authenticator.get(options)
    assert post_json(first, "/accounts/passkey/complete/", assertion).status_code == 200

    thief = Client()
    # Without a ceremony of its own: no state.
    assert post_json(thief, "/accounts/passkey/complete/", assertion).status_code == 400
    # With a fresh challenge: the old signature does not cover it.
    post_json(thief, "/accounts/passkey/begin/")
    assert post_json(thief, "/accounts/passkey/complete/", assertion).status_code == 422
    # And the same session cannot complete its own ceremony twice.
    assert post_json(first, "/accounts/passkey/complete/", assertion).status_code == 400
    assert not is_logged_in(thief, user)


def test_another_users_credential_is_rejected_at_the_second_step(user):
    register(user, SoftAuthenticator(ORIGIN))
    other = UserFactory()
    theirs = SoftAuthenticator(ORIGIN)
    register(other, theirs)
    client = Client()
    password_step(client, user)

    options = post_json(client, "/accounts/2fa/passkey/begin/").json()
    response = post_json(
        client,
        "/accounts/2fa/passkey/complete/",
        theirs.get(options, credential_id=next(iter(theirs.credentials))),
    )

    assert response.status_code == 403
    assert response.json()["code"] == "credential_user_mismatch"
    assert not is_logged_in(client, user)
    assert not is_logged_in(client, other)


def test_passwordless_needs_user_verification(user):
    no_pin = SoftAuthenticator(ORIGIN, user_verified=False)
    register(user, no_pin)
    client = Client()
    assert passwordless(client, no_pin).status_code == 422
    assert not is_logged_in(client, user)


def test_second_step_ceremony_cannot_finish_a_passwordless_login(user):
    """A stolen PIN-less key must not log in its owner's account through a ceremony begun at
    the attacker's own second step (which does not ask for user verification)."""
    victim_key = SoftAuthenticator(ORIGIN, user_verified=False)
    register(user, victim_key)
    attacker = UserFactory()
    register(attacker, SoftAuthenticator(ORIGIN))
    client = Client()
    assert password_step(client, attacker)["Location"] == "/accounts/2fa/"
    options = post_json(client, "/accounts/2fa/passkey/begin/").json()
    options["allowCredentials"] = []

    response = post_json(client, "/accounts/passkey/complete/", victim_key.get(options))

    assert response.status_code == 400
    assert not is_logged_in(client, user)


def test_registration_needs_a_signed_in_and_stepped_up_user(user, settings):
    anonymous = Client()
    assert post_json(anonymous, "/webauthn/registration/begin/").status_code in (401, 403)
    client = signed_in(user)
    settings.GATEHOUSE_STEPUP_MAX_AGE = 0
    response = post_json(client, "/webauthn/registration/begin/")
    assert response.status_code == 403
    assert response.json()["code"] == "stepup_required"


def test_blocked_user_cannot_sign_in_with_a_passkey(user):
    authenticator = SoftAuthenticator(ORIGIN)
    register(user, authenticator)
    user.is_blocked = True
    user.save(update_fields=["is_blocked"])
    client = Client()
    response = passwordless(client, authenticator)
    assert response.status_code == 403
    assert not is_logged_in(client, user)


def test_step_up_with_a_passkey_then_remove_it(user):
    authenticator = SoftAuthenticator(ORIGIN)
    client = signed_in(user)
    credential = register(user, authenticator, client)
    remove = f"/account/security/passkey/{credential.pk}/remove/"

    ten_minutes_later = time.time() + 600
    with mock.patch("time.time", return_value=ten_minutes_later):
        # Registering counted as a fresh authentication, but not for long; and with a passkey
        # the password alone no longer steps up.
        assert client.post(remove)["Location"].startswith("/account/security/verify/")
        options = post_json(client, "/account/security/verify/passkey/begin/").json()
        response = post_json(
            client, "/account/security/verify/passkey/complete/", authenticator.get(options)
        )
        assert response.status_code == 200, response.content
        assert client.post(remove)["Location"] == "/account/security/"

    assert not WebAuthnCredential.objects.filter(pk=credential.pk).exists()
    assert passwordless(Client(), authenticator).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        "[]",
        '"x"',
        '{"id": 5}',
        '{"id":"AA","rawId":"AA","type":"public-key","response":{}}',
        "nope",
        "",
        b"\xff\xfe{",
        "[" * 100_000,
    ],
)
def test_garbage_bodies_get_clear_errors(user, body):
    # Signed in and stepped up (a fresh password login, no MFA yet): the registration
    # endpoints get as far as parsing the body.
    client = signed_in(user)
    client.raise_request_exception = False
    for begin, complete in [
        ("/webauthn/registration/begin/", "/webauthn/registration/complete/"),
        ("/accounts/passkey/begin/", "/accounts/passkey/complete/"),
    ]:
        assert post_json(client, begin).status_code == 200
        response = client.post(complete, body, content_type="application/json")
        assert 400 <= response.status_code < 500, (complete, body[:20], response.status_code)
        assert "code" in response.json()
        response = client.post(begin, body, content_type="application/json")
        assert response.status_code < 500, (begin, body[:20], response.status_code)


def test_a_passkey_already_registered_cannot_be_registered_again(user):
    """Another user's credential id (visible in their second step's options) registered as
    one's own: a clear refusal, not a crash, and the credential stays its owner's."""
    victim_key = SoftAuthenticator(ORIGIN)
    victims = register(user, victim_key)
    attacker = UserFactory()
    client = signed_in(attacker)
    options = post_json(client, "/webauthn/registration/begin/").json()
    answer = _create_with_id(SoftAuthenticator(ORIGIN), options, next(iter(victim_key.credentials)))

    response = post_json(client, "/webauthn/registration/complete/", answer)

    assert response.status_code == 409
    assert response.json()["code"] == "credential_exists"
    victims.refresh_from_db()
    assert victims.user == user
    assert WebAuthnCredential.objects.filter(user=attacker).count() == 0


def _create_with_id(authenticator: SoftAuthenticator, options: dict, credential_id: bytes) -> dict:
    with mock.patch("tests.accounts.authenticator.os.urandom", return_value=credential_id):
        return authenticator.create(options)
