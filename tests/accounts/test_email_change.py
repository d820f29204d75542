"""Changing the email address: verify the new one, tell the old one, step up first."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from accounts.models import User
from audit.models import AuditEvent
from tests.accounts.failures import AuditDown, audit_is_down
from tests.conftest import links_in, path_of
from tests.factories import DEFAULT_PASSWORD, UserFactory


def ask_for_change(client, new_email: str):
    return client.post("/account/email/", {"action_add": "", "email": new_email})


def reauthenticate(client, password: str = DEFAULT_PASSWORD):
    """Step up with the password (accounts/mfa/stepup.py), as a user without MFA does."""
    return client.post("/account/security/verify/", {"kind": "password", "password": password})


def test_change_is_pending_until_the_new_address_is_verified(logged_in_client, user):
    old_email = user.email
    assert reauthenticate(logged_in_client).status_code == 302
    mail.outbox.clear()

    response = ask_for_change(logged_in_client, "new.address@example.com")

    assert response.status_code == 302
    [verification] = mail.outbox
    assert verification.to == ["new.address@example.com"]
    user.refresh_from_db()
    assert user.email == old_email, "nothing changes before the new address is verified"
    assert AuditEvent.objects.filter(action="email.added", actor=user).exists()

    [link] = [link for link in links_in(verification) if "/confirm-email/" in link]
    mail.outbox.clear()
    assert logged_in_client.post(path_of(link)).status_code == 302

    user.refresh_from_db()
    assert user.email == "new.address@example.com"
    assert list(EmailAddress.objects.filter(user=user).values_list("email", "primary")) == [
        ("new.address@example.com", True)
    ]
    [notice] = mail.outbox
    assert notice.to == [old_email], "the old address is told about the change"
    assert "new.address@example.com" in notice.body
    changed = AuditEvent.objects.get(action="email.changed")
    assert changed.data == {"from": old_email, "to": "new.address@example.com"}
    assert AuditEvent.objects.filter(action="email.verified", target_id=str(user.pk)).exists()
    # The new address is now the login.
    logged_in_client.post("/accounts/logout/")
    response = logged_in_client.post(
        "/accounts/login/", {"login": "new.address@example.com", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302


def test_change_requires_recent_authentication(logged_in_client, user, settings):
    # Logging in a moment ago counts as a recent authentication; make it too old.
    settings.GATEHOUSE_STEPUP_MAX_AGE = 0
    mail.outbox.clear()

    response = ask_for_change(logged_in_client, "new.address@example.com")

    assert response.status_code == 302
    assert response["Location"] == "/account/security/verify/?next=%2Faccount%2Femail%2F"
    assert mail.outbox == []
    assert not EmailAddress.objects.filter(email="new.address@example.com").exists()

    settings.GATEHOUSE_STEPUP_MAX_AGE = 300
    response = logged_in_client.post(
        "/account/security/verify/?next=/account/email/",
        {"kind": "password", "password": "wrong password"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors
    assert AuditEvent.objects.filter(action="mfa.failed", target_id=str(user.pk)).exists()

    # After the step-up the user is back on the page and submits again; the first POST was
    # not parked in the session (a password change would have left passwords there).
    response = logged_in_client.post(
        "/account/security/verify/?next=/account/email/",
        {"kind": "password", "password": DEFAULT_PASSWORD},
    )
    assert response["Location"] == "/account/email/"
    assert "account_reauthentication_state" not in logged_in_client.session
    assert not EmailAddress.objects.filter(email="new.address@example.com").exists()
    assert ask_for_change(logged_in_client, "new.address@example.com").status_code == 302
    assert EmailAddress.objects.filter(user=user, email="new.address@example.com").exists()
    [verification] = mail.outbox
    assert verification.to == ["new.address@example.com"]

    # The same views at allauth's own address are guarded too.
    settings.GATEHOUSE_STEPUP_MAX_AGE = 0
    for path in ("/accounts/email/", "/accounts/password/change/", "/account/password/"):
        response = logged_in_client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/account/security/verify/"), path


def test_changing_to_an_address_someone_else_has_reveals_nothing(logged_in_client, user):
    UserFactory(email="someone.else@example.com")
    reauthenticate(logged_in_client)
    mail.outbox.clear()

    response = ask_for_change(logged_in_client, "Someone.Else@example.com")

    assert response.status_code == 302  # the same answer as for a free address
    assert User.objects.filter(email__iexact="someone.else@example.com").count() == 1
    # Even if the owner of that address follows the link they are sent, it stays theirs.
    [message] = mail.outbox
    assert message.to == ["someone.else@example.com"]
    for link in links_in(message):
        if "/confirm-email/" in link:
            response = Client().post(path_of(link))
            assert response.status_code < 500
    assert not EmailAddress.objects.filter(
        user=user, email__iexact="someone.else@example.com", verified=True
    ).exists()
    user.refresh_from_db()
    assert user.email != "someone.else@example.com"


def test_malformed_new_address_is_a_form_error(logged_in_client, user):
    reauthenticate(logged_in_client)
    for bad in ("not-an-email", "a" * 300 + "@example.com", ""):
        response = ask_for_change(logged_in_client, bad)
        assert response.status_code == 200
        assert response.context["form"].errors
    assert EmailAddress.objects.filter(user=user).count() == 1


def test_an_address_added_without_its_audit_event_is_not_added(logged_in_client, user, monkeypatch):
    assert reauthenticate(logged_in_client).status_code == 302
    mail.outbox.clear()
    audit_is_down(monkeypatch)

    with pytest.raises(AuditDown):
        ask_for_change(logged_in_client, "new.address@example.com")

    assert not EmailAddress.objects.filter(email="new.address@example.com").exists()
    assert mail.outbox == [], "no verification email for an address that was not added"


def test_a_primary_switch_without_its_audit_event_leaves_the_old_primary(
    logged_in_client, user, monkeypatch
):
    EmailAddress.objects.create(user=user, email="second@example.com", verified=True)
    assert reauthenticate(logged_in_client).status_code == 302
    audit_is_down(monkeypatch)

    with pytest.raises(AuditDown):
        logged_in_client.post(
            "/account/email/", {"action_primary": "", "email": "second@example.com"}
        )

    user.refresh_from_db()
    assert user.email != "second@example.com"
    primary = EmailAddress.objects.filter(user=user, primary=True)
    assert list(primary.values_list("email", flat=True)) == [user.email]
