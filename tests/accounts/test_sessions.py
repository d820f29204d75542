"""The user's own list of sessions: revoke one, the others, or all."""

from __future__ import annotations

from allauth.usersessions.models import UserSession
from django.test import Client

from audit.models import AuditEvent
from tests.factories import DEFAULT_PASSWORD, UserFactory


def sign_in(user, agent: str) -> Client:
    client = Client(HTTP_USER_AGENT=agent)
    response = client.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    return client


def is_signed_in(client: Client) -> bool:
    return client.get("/account/").status_code == 200


def test_sessions_page_lists_each_device(user):
    laptop = sign_in(user, "Laptop Firefox")
    sign_in(user, "Phone Safari")

    response = laptop.get("/account/sessions/")

    assert response.status_code == 200
    agents = sorted(s.user_agent for s in response.context["user_sessions"])
    assert agents == ["Laptop Firefox", "Phone Safari"]
    assert b"(this session)" in response.content


def test_revoking_one_session_signs_out_that_device_only(user):
    laptop = sign_in(user, "Laptop Firefox")
    phone = sign_in(user, "Phone Safari")
    phone_session = UserSession.objects.get(user_agent="Phone Safari")

    response = laptop.post(
        "/account/sessions/", {"action": "revoke", "session": str(phone_session.pk)}
    )

    assert response.status_code == 302
    assert not is_signed_in(phone)
    assert is_signed_in(laptop)
    event = AuditEvent.objects.get(action="session.revoked")
    assert event.actor_id == user.pk
    assert event.target_id == str(user.pk)


def test_sign_out_of_other_sessions_keeps_this_one(user):
    laptop = sign_in(user, "Laptop")
    phone = sign_in(user, "Phone")
    tablet = sign_in(user, "Tablet")

    laptop.post("/account/sessions/", {"action": "revoke_others"})

    assert is_signed_in(laptop)
    assert not is_signed_in(phone)
    assert not is_signed_in(tablet)
    assert AuditEvent.objects.get(action="session.revoked_all").data["sessions_ended"] == 2


def test_sign_out_everywhere_includes_this_device(user):
    laptop = sign_in(user, "Laptop")
    phone = sign_in(user, "Phone")

    response = laptop.post("/account/sessions/", {"action": "revoke_all"})

    assert response.status_code == 302
    assert not is_signed_in(laptop)
    assert not is_signed_in(phone)


def test_someone_elses_session_cannot_be_revoked(user):
    mallory = UserFactory()
    attacker = sign_in(mallory, "Attacker")
    victim = sign_in(user, "Victim")
    victim_session = UserSession.objects.get(user=user)

    response = attacker.post(
        "/account/sessions/", {"action": "revoke", "session": str(victim_session.pk)}
    )

    assert response.status_code == 404
    assert is_signed_in(victim)
    assert not AuditEvent.objects.filter(action="session.revoked").exists()


def test_bad_revoke_requests_are_clear_errors(user):
    client = sign_in(user, "Laptop")
    for data in (
        {"action": "revoke", "session": "not-a-number"},
        {"action": "revoke", "session": "9" * 40},
        {"action": "revoke", "session": "²"},
        {"action": "revoke", "session": "-1"},
        {"action": "revoke"},
        {"action": "explode"},
        {},
    ):
        response = client.post("/account/sessions/", data)
        assert response.status_code in (400, 404), data
    assert is_signed_in(client)


def test_sessions_page_needs_sign_in(client):
    response = client.get("/account/sessions/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_last_seen_is_refreshed_at_most_every_few_minutes(user):
    client = sign_in(user, "Laptop")
    tracked = UserSession.objects.get(user=user)
    first_seen = tracked.last_seen_at

    client.get("/account/")
    assert UserSession.objects.get(pk=tracked.pk).last_seen_at == first_seen

    session = client.session
    session["_gatehouse_session_seen"] = 0  # as if the last refresh were long ago
    session.save()
    client.get("/account/", REMOTE_ADDR="192.0.2.7")

    refreshed = UserSession.objects.get(pk=tracked.pk)
    assert refreshed.last_seen_at > first_seen
    assert refreshed.ip == "192.0.2.7"


def test_periodic_purge_drops_rows_of_ended_sessions_only(user):
    from accounts.tasks import purge_ended_user_sessions

    kept = sign_in(user, "Kept")
    ended = sign_in(user, "Ended")
    ended.post("/accounts/logout/")
    # Logging out ends the session in the store; the tracking row is swept later.
    UserSession.objects.create(user=user, session_key="gone-long-ago", ip="192.0.2.1")

    assert UserSession.objects.filter(user=user).count() == 3

    assert purge_ended_user_sessions() == 2

    assert [s.user_agent for s in UserSession.objects.filter(user=user)] == ["Kept"]
    assert is_signed_in(kept)
