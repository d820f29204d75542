"""The users API end to end, as an operator's backend calls it with a token: search, read,
create (with or without the verification email), profile, block and unblock, sessions,
second factors and erasure. Every write goes through the accounts services, is audited as the
calling client, and bad input is a 400 problem."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.core import mail
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.api.serializers import SupportReasonSerializer
from accounts.models import MFAReset, User
from audit.models import AuditEvent
from consent.models import DataSubjectRequest
from tests.api.oauth_world import backend
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.organizations.conftest import signed_in

USERS = "/api/v1/users/"
RW = ["users:read", "users:write"]


def results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_search_by_exact_email_prefix_and_public_id(db):
    ada = UserFactory(email="ada@lovelace.example")
    UserFactory(email="adam@example.com")
    UserFactory(email="grace@hopper.example")
    caller = backend(scopes=["users:read"]).caller()
    assert [u["email"] for u in results(caller.get(USERS, {"email": "Ada@Lovelace.example"}))] == [
        "ada@lovelace.example"
    ]
    by_prefix = results(caller.get(USERS, {"email_prefix": "ada"}))
    assert sorted(u["email"] for u in by_prefix) == ["ada@lovelace.example", "adam@example.com"]
    [found] = results(caller.get(USERS, {"id": str(ada.public_id)}))
    assert found["id"] == str(ada.public_id)
    assert found["email_verified"] is True
    assert "password" not in found
    assert results(caller.get(USERS, {"email": "nobody@example.com"})) == []


def test_a_bad_search_is_a_400_problem(db):
    caller = backend(scopes=["users:read"]).caller()
    response = caller.get(USERS, {"id": "not-a-uuid"})
    assert response.status_code == 400
    assert "id" in response.json()["errors"]
    assert caller.get(USERS, {"page": "0"}).status_code == 400


def test_read_one_and_an_unknown_one(db):
    person = UserFactory(display_name="Ada")
    caller = backend(scopes=["users:read"]).caller()
    response = caller.get(f"{USERS}{person.public_id}/")
    assert response.status_code == 200
    assert response.json()["display_name"] == "Ada"
    assert caller.get(f"{USERS}00000000-0000-0000-0000-000000000000/").status_code == 404


def test_create_with_the_verification_email(db):
    app = backend(scopes=RW)
    caller = app.caller()
    mail.outbox.clear()
    response = caller.send("POST", USERS, {"email": "New.Person@Example.com", "display_name": "N"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "new.person@example.com"
    assert body["email_verified"] is False
    user = User.objects.get(public_id=body["id"])
    assert not user.has_usable_password()
    [message] = mail.outbox
    assert message.to == ["new.person@example.com"]
    assert "/accounts/confirm-email/" in message.body
    event = AuditEvent.objects.get(action="oauth.api_user_created")
    assert event.actor_text == f"client {app.client_id}"
    assert event.data["verification_sent"] is True


def test_create_verified_sends_nothing(db):
    caller = backend(scopes=RW).caller()
    mail.outbox.clear()
    response = caller.send("POST", USERS, {"email": "known@example.com", "email_verified": True})
    assert response.status_code == 201, response.content
    assert response.json()["email_verified"] is True
    assert EmailAddress.objects.get(email="known@example.com").verified
    assert mail.outbox == []


def test_create_without_the_email(db):
    caller = backend(scopes=RW).caller()
    mail.outbox.clear()
    body = {"email": "quiet@example.com", "send_verification_email": False}
    assert caller.send("POST", USERS, body).status_code == 201
    assert mail.outbox == []
    assert not EmailAddress.objects.get(email="quiet@example.com").verified


def test_create_refuses_a_taken_address_and_bad_input(db):
    UserFactory(email="taken@example.com")
    caller = backend(scopes=RW).caller()
    response = caller.send("POST", USERS, {"email": "TAKEN@example.com"})
    assert response.status_code == 409
    for body in (
        {"email": "not an email"},
        {},
        {"email": 7},
        {"email": "a@b.co", "email_verified": "yes"},
    ):
        response = caller.send("POST", USERS, body)
        assert response.status_code == 400, (body, response.content)
        assert response["Content-Type"] == "application/problem+json"
    assert User.objects.count() == 1 + 0  # nothing but the taken one


def test_update_the_display_name(db):
    person = UserFactory(display_name="Old")
    app = backend(scopes=RW)
    response = app.caller().send("PATCH", f"{USERS}{person.public_id}/", {"display_name": "New"})
    assert response.status_code == 200, response.content
    assert response.json()["display_name"] == "New"
    person.refresh_from_db()
    assert person.display_name == "New"
    event = AuditEvent.objects.get(action="profile.updated")
    assert event.actor_text == f"client {app.client_id}"
    # Nothing to change changes nothing; a wrong type is a 400.
    assert app.caller().send("PATCH", f"{USERS}{person.public_id}/", {}).status_code == 200
    bad = app.caller().send("PATCH", f"{USERS}{person.public_id}/", {"display_name": 3})
    assert bad.status_code == 400
    person.refresh_from_db()
    assert person.display_name == "New"


def test_block_ends_sessions_and_login_then_unblock(db):
    person = UserFactory()
    browser = signed_in(person)
    assert UserSession.objects.filter(user=person).count() == 1
    caller = backend(scopes=RW).caller()
    path = f"{USERS}{person.public_id}"
    assert caller.send("POST", f"{path}/block/", {}).status_code == 400  # a reason is required
    response = caller.send("POST", f"{path}/block/", {"reason": "card fraud"})
    assert response.status_code == 200, response.content
    assert response.json()["blocked"] is True
    person.refresh_from_db()
    assert person.is_blocked
    assert person.blocked_reason == "card fraud"
    assert not UserSession.objects.filter(user=person).exists()
    assert browser.get("/account/").status_code == 302  # signed out
    browser.post("/accounts/login/", {"login": person.email, "password": DEFAULT_PASSWORD})
    assert browser.get("/account/").status_code == 302  # still not let in
    response = caller.send("POST", f"{path}/unblock/", {"reason": "cleared"})
    assert response.status_code == 200
    assert response.json()["blocked"] is False
    assert list(
        AuditEvent.objects.filter(action__in=["user.blocked", "user.unblocked"])
        .order_by("occurred_at")
        .values_list("action", flat=True)
    ) == ["user.blocked", "user.unblocked"]


def test_list_and_revoke_sessions(db):
    person = UserFactory()
    signed_in(person)
    signed_in(person)
    caller = backend(scopes=RW).caller()
    path = f"{USERS}{person.public_id}/sessions/"
    sessions = results(caller.get(path))
    assert len(sessions) == 2
    assert "session_key" not in sessions[0]
    assert caller.delete(f"{path}{sessions[0]['id']}/").status_code == 204
    assert caller.delete(f"{path}{sessions[0]['id']}/").status_code == 404
    assert len(results(caller.get(path))) == 1
    response = caller.delete(path)
    assert response.status_code == 200
    assert response.json() == {"sessions_ended": 1}
    assert not UserSession.objects.filter(user=person).exists()


def test_list_and_reset_second_factors(db):
    person = UserFactory()
    TOTPDevice.objects.create(user=person, name="Phone", confirmed=True)
    caller = backend(scopes=RW).caller()
    path = f"{USERS}{person.public_id}/factors/"
    response = caller.get(path)
    assert response.status_code == 200
    [factor] = response.json()
    assert factor["kind"] == "totp"
    assert factor["name"] == "Phone"
    assert "key" not in factor
    assert caller.send("POST", f"{path}reset/", {}).status_code == 400
    response = caller.send("POST", f"{path}reset/", {"reason": "lost phone, ID checked"})
    # Scheduled like support's: nothing is removed before the waiting period is over.
    assert response.status_code == 202, response.content
    reset = MFAReset.objects.get(user=person)
    assert response.json()["id"] == str(reset.public_id)
    assert response.json()["status"] == "pending"
    assert reset.via == MFAReset.Via.API
    assert TOTPDevice.objects.filter(user=person).exists()
    event = AuditEvent.objects.get(action="mfa.reset_requested")
    assert event.data["reason"] == "lost phone, ID checked"
    assert not AuditEvent.objects.filter(action="mfa.reset").exists()
    # Asking again returns the same pending reset.
    again = caller.send("POST", f"{path}reset/", {"reason": "lost phone, ID checked"})
    assert again.json()["id"] == str(reset.public_id)


def test_request_erasure(db):
    person = UserFactory()
    app = backend(scopes=RW)
    response = app.caller().send("POST", f"{USERS}{person.public_id}/erasure/")
    assert response.status_code == 202, response.content
    erasure = DataSubjectRequest.objects.get(user=person)
    assert response.json()["id"] == str(erasure.public_id)
    assert erasure.via == DataSubjectRequest.Via.API
    event = AuditEvent.objects.get(action="privacy.erasure_requested")
    assert event.actor_text == f"client {app.client_id}"
    # Asking again returns the same request.
    again = app.caller().send("POST", f"{USERS}{person.public_id}/erasure/")
    assert again.json()["id"] == str(erasure.public_id)


def test_a_reason_over_its_length_is_refused_as_sent_not_after_trimming(db):
    """The schema promises maxLength on what the client sends. DRF trims leading control
    characters before counting, which let 1,001 characters through (found by schemathesis)."""
    person = UserFactory()
    caller = backend(scopes=RW).caller()
    path = f"{USERS}{person.public_id}"
    limit = SupportReasonSerializer().fields["reason"].max_length
    for reason in ("\x1f" + "x" * limit, " " + "x" * limit, "x" * (limit + 1)):
        response = caller.send("POST", f"{path}/block/", {"reason": reason})
        assert response.status_code == 400, response.content
        assert "no more than" in response.json()["errors"]["reason"][0]
    person.refresh_from_db()
    assert not person.is_blocked
    exactly = caller.send("POST", f"{path}/block/", {"reason": "x" * limit})
    assert exactly.status_code == 200
