"""Password login, logout, hashing, lockout and blocked users."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher, make_password
from django.test import Client

from accounts import services
from accounts.models import User
from audit.models import AuditEvent
from tests.accounts.work import TransactionLog
from tests.factories import DEFAULT_PASSWORD, UserFactory


def login(client: Client, email: str, password: str):
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_login_with_right_password_signs_in_and_is_audited(client, user):
    response = login(client, user.email.upper(), DEFAULT_PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/account/"
    assert client.session["_auth_user_id"] == str(user.pk)
    event = AuditEvent.objects.get(action="login.succeeded")
    assert event.actor_id == user.pk
    assert event.data["method"] == "password"
    # The first sign-in is new everywhere, and not risky for that alone (accounts/takeover/).
    assert event.data["risk"]["first_sign_in"] is True
    assert event.data["risk"]["risky"] is False
    assert event.ip == "127.0.0.1"
    assert len(event.request_id) == 32


def test_wrong_password_is_refused_and_audited(client, user):
    response = login(client, user.email, "not the password at all")

    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action="login.failed")
    assert event.outcome == "failure"
    assert event.actor_text == user.email
    assert "password" not in str(event.data).lower() or "[redacted]" in str(event.data)


def test_logout_ends_session_and_is_audited(logged_in_client, user):
    response = logged_in_client.post("/accounts/logout/")

    assert response.status_code == 302
    assert logged_in_client.get("/account/").status_code == 302
    assert AuditEvent.objects.filter(action="logout", actor=user).exists()


def test_new_hashes_are_argon2id_at_owasp_parameters(user):
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


def test_pbkdf2_hash_is_upgraded_to_argon2id_at_login(client):
    user = UserFactory()
    User.objects.filter(pk=user.pk).update(
        password=make_password(DEFAULT_PASSWORD, hasher="pbkdf2_sha256")
    )

    assert login(client, user.email, DEFAULT_PASSWORD).status_code == 302

    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


def test_argon2_hash_with_django_default_parameters_is_upgraded(client):
    user = UserFactory()
    User.objects.filter(pk=user.pk).update(
        password=Argon2PasswordHasher().encode(DEFAULT_PASSWORD, "saltsaltsaltsalt")
    )
    assert "m=102400" in User.objects.get(pk=user.pk).password

    assert login(client, user.email, DEFAULT_PASSWORD).status_code == 302

    user.refresh_from_db()
    assert "m=19456,t=2,p=1" in user.password


def test_repeated_failures_lock_the_email_even_for_the_right_password(client, user):
    for _ in range(5):
        assert login(client, user.email, "wrong password here").status_code == 200

    response = login(client, user.email, DEFAULT_PASSWORD)

    assert response.status_code == 200
    assert "Too many failed sign-in attempts" in str(response.context["form"].non_field_errors())
    assert "_auth_user_id" not in client.session


def test_lockout_of_one_email_does_not_lock_another(client, user):
    other = UserFactory()
    for _ in range(5):
        login(client, user.email, "wrong password here")

    assert login(client, other.email, DEFAULT_PASSWORD).status_code == 302


def test_blocked_user_sees_clear_message_and_gets_no_session(client, user):
    admin = UserFactory(is_staff=True)
    services.block_user(user=user, actor=admin, reason="chargeback fraud")

    response = login(client, user.email, DEFAULT_PASSWORD)

    assert response.status_code == 403
    assert b"This account is blocked" in response.content
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="login.blocked", target_id=str(user.pk)).exists()


def test_blocked_user_with_wrong_password_learns_nothing_about_the_block(client, user):
    admin = UserFactory(is_staff=True)
    services.block_user(user=user, actor=admin, reason="abuse")

    response = login(client, user.email, "wrong password here")

    assert response.status_code == 200
    assert b"blocked" not in response.content


def test_login_form_rejects_oversized_and_missing_fields(client):
    for data in (
        {"login": "a" * 5000 + "@example.com", "password": "x" * 5000},
        {"login": "", "password": ""},
        {"password": "only a password"},
    ):
        response = client.post("/accounts/login/", data)
        assert response.status_code == 200
        assert response.context["form"].errors


def test_failures_from_one_address_across_many_emails_lock_that_address(client, user):
    for n in range(10):
        login(client, f"guess{n}@example.com", "wrong password here")

    response = login(client, user.email, DEFAULT_PASSWORD)

    assert response.status_code == 200
    assert "Too many failed sign-in attempts" in str(response.context["form"].non_field_errors())
    # Another address is not affected.
    other = Client(REMOTE_ADDR="198.51.100.20")
    assert login(other, user.email, DEFAULT_PASSWORD).status_code == 302


def test_lockout_lifts_when_the_window_passes(client, user, settings):
    import time

    settings.GATEHOUSE_FAILED_LOGIN_LIMITS = {"ip": (10, 60), "email": (2, 1)}
    login(client, user.email, "wrong password here")
    login(client, user.email, "wrong password here")
    assert login(client, user.email, DEFAULT_PASSWORD).status_code == 200

    time.sleep(1.2)

    assert login(client, user.email, DEFAULT_PASSWORD).status_code == 302


def test_password_reset_ends_the_email_lockout(client, user):
    from django.core import mail

    from tests.conftest import links_in, path_of

    for _ in range(5):
        login(client, user.email, "wrong password here")
    client.post("/accounts/password/reset/", {"email": user.email})
    [link] = [x for x in links_in(mail.outbox[-1]) if "/password/reset/key/" in x]
    form_path = client.get(path_of(link))["Location"]
    new = "maroon-Lantern-orbit-42"
    client.post(form_path, {"password1": new, "password2": new})

    assert login(Client(), user.email, new).status_code == 302


def test_a_locked_login_says_when_to_try_again_and_offers_other_ways_in(client, user):
    for _ in range(5):
        login(client, user.email, "wrong password here")

    response = login(client, user.email, DEFAULT_PASSWORD)

    page = response.content.decode()
    # The email's window is 5 minutes, opened by the first failure a moment ago.
    assert "Try again in about 5 minutes" in page
    assert '<a href="/accounts/login/code/" data-carry-email="#id_login">' in page
    assert '<a href="/accounts/password/reset/" data-carry-email="#id_login">' in page
    assert "_auth_user_id" not in client.session


def test_a_locked_address_is_told_the_time_left_in_its_own_window(client, user, settings):
    settings.GATEHOUSE_FAILED_LOGIN_LIMITS = {"ip": (2, 60), "email": (50, 3600)}
    login(client, "guess1@example.com", "wrong password here")
    login(client, "guess2@example.com", "wrong password here")

    response = login(client, user.email, DEFAULT_PASSWORD)

    assert "Try again in about a minute" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_login_writes_its_rows_in_one_transaction(client, user, monkeypatch):
    """Requests are not wrapped in a transaction: the login owns one for everything it writes
    (the last login time, its audit event, the session's row), not one per row."""
    with TransactionLog(monkeypatch) as log:
        assert login(client, user.email, DEFAULT_PASSWORD).status_code == 302

    [transaction] = log.transactions_of(
        "UPDATE accounts_user", "INSERT audit_auditevent", "INSERT usersessions_usersession"
    )
    assert transaction is not None


def test_the_login_page_offers_a_password_reset_link_rendered_once(client, user, monkeypatch):
    from accounts import forms

    rendered: list[str] = []
    real = forms.render_to_string

    def counting(template_name: str) -> str:
        rendered.append(template_name)
        return real(template_name)

    monkeypatch.setattr(forms, "render_to_string", counting)
    forms._password_reset_help.cache_clear()

    page = client.get("/accounts/login/").content.decode()
    assert login(client, user.email, DEFAULT_PASSWORD).status_code == 302

    assert 'href="/accounts/password/reset/" id="password-reset-link"' in page
    assert len(rendered) == 1  # the page rendered it; the login POST reused it
