"""The profile page at /account/."""

from __future__ import annotations

from audit.models import AuditEvent


def test_profile_shows_who_is_signed_in(logged_in_client, user):
    response = logged_in_client.get("/account/")
    assert response.status_code == 200
    assert user.email.encode() in response.content


def test_display_name_can_be_changed_and_is_audited(logged_in_client, user):
    old = user.display_name
    response = logged_in_client.post("/account/", {"display_name": "  Grace Hopper "})

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.display_name == "Grace Hopper"
    event = AuditEvent.objects.get(action="profile.updated")
    assert event.data == {"display_name": {"from": old, "to": "Grace Hopper"}}


def test_oversized_display_name_is_refused_and_nothing_changes(logged_in_client, user):
    old = user.display_name
    response = logged_in_client.post("/account/", {"display_name": "x" * 151})

    assert response.status_code == 400
    assert "display_name" in response.context["form"].errors
    user.refresh_from_db()
    assert user.display_name == old
    assert not AuditEvent.objects.filter(action="profile.updated").exists()


def test_profile_needs_sign_in(client):
    response = client.get("/account/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_self_service_pages_live_under_account(logged_in_client):
    response = logged_in_client.get("/account/")

    for path in (b'href="/account/email/"', b'href="/account/password/"'):
        assert path in response.content
    assert b'href="/account/sessions/"' in response.content
    assert logged_in_client.get("/account/email/").status_code in (200, 302)
    assert logged_in_client.get("/account/password/").status_code == 200
