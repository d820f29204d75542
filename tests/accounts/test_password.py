"""Password reset by email link, and password change while signed in."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from audit.models import AuditEvent
from tests.accounts.failures import AuditDown, audit_is_down
from tests.conftest import links_in, path_of
from tests.factories import DEFAULT_PASSWORD

NEW_PASSWORD = "maroon-Lantern-orbit-42"


def reset_link(client: Client, email: str) -> str:
    client.post("/accounts/password/reset/", {"email": email})
    [message] = [m for m in mail.outbox if m.to == [email]]
    [link] = [link for link in links_in(message) if "/accounts/password/reset/key/" in link]
    return path_of(link)


def follow_to_form(client: Client, path: str) -> str:
    """The emailed link redirects once to a URL without the key in it (kept in the session)."""
    response = client.get(path)
    assert response.status_code == 302
    return response["Location"]


def test_reset_link_sets_new_password_and_is_audited(client, user):
    form_path = follow_to_form(client, reset_link(client, user.email))
    mail.outbox.clear()

    response = client.post(form_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(action="password.reset", target_id=str(user.pk)).exists()
    [notice] = mail.outbox
    assert notice.to == [user.email]
    assert "password" in notice.subject.lower()


def test_reset_link_works_only_once(client, user):
    path = reset_link(client, user.email)
    form_path = follow_to_form(client, path)
    client.post(form_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    again = Client()
    response = again.get(path, follow=True)

    assert response.status_code == 200
    assert b"invalid" in response.content.lower()
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_reset_link_with_tampered_key_is_refused_clearly(client, user):
    path = reset_link(client, user.email)
    tampered = path.rstrip("/")[:-3] + "zzz/"

    response = client.get(tampered, follow=True)

    assert response.status_code == 200
    assert b"invalid" in response.content.lower()


def test_weak_new_password_is_refused_and_old_one_still_works(client, user):
    form_path = follow_to_form(client, reset_link(client, user.email))

    response = client.post(form_path, {"password1": "short", "password2": "short"})

    assert response.status_code == 200
    assert response.context["form"].errors
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_reset_requests_are_rate_limited_per_email(user):
    for _ in range(5):
        Client().post("/accounts/password/reset/", {"email": user.email})

    response = Client().post("/accounts/password/reset/", {"email": user.email})

    assert response.status_code == 429
    assert len(mail.outbox) == 5


def test_password_change_needs_the_current_password(logged_in_client, user):
    response = logged_in_client.post(
        "/account/password/",
        {"oldpassword": "not my password", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert "oldpassword" in response.context["form"].errors
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_change_works_notifies_and_is_audited(logged_in_client, user):
    mail.outbox.clear()
    response = logged_in_client.post(
        "/account/password/",
        {"oldpassword": DEFAULT_PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(action="password.changed", actor=user).exists()
    [notice] = mail.outbox
    assert notice.to == [user.email]
    # Still signed in on this device.
    assert logged_in_client.get("/account/").status_code == 200


def test_password_change_that_cannot_be_audited_changes_nothing(
    logged_in_client, user, monkeypatch
):
    mail.outbox.clear()
    audit_is_down(monkeypatch)

    with pytest.raises(AuditDown):
        logged_in_client.post(
            "/account/password/",
            {"oldpassword": DEFAULT_PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )

    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD), "the new hash went with the failed audit"
    assert mail.outbox == [], "no notice of a change that did not happen"


def test_reset_that_cannot_be_audited_changes_nothing_and_the_link_still_works(
    client, user, monkeypatch
):
    form_path = follow_to_form(client, reset_link(client, user.email))
    mail.outbox.clear()
    audit_is_down(monkeypatch)

    with pytest.raises(AuditDown):
        client.post(form_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)
    assert mail.outbox == []
    monkeypatch.undo()
    response = client.post(form_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
