"""Sign-up in one motion: the emailed code, typed on the waiting page, signs the person in;
the link in the same email still works; a new code after a cooldown; "Wrong address?"."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import Client

from accounts.models import User
from audit.models import AuditEvent
from tests.accounts.mfa_helpers import enroll_totp
from tests.conftest import links_in, path_of
from tests.factories import DEFAULT_PASSWORD, UserFactory

STRONG = "violet-Anchor-quarry-81"
WAITING = "/accounts/confirm-email/"


def sign_up(client: Client, email: str, password: str = STRONG):
    return client.post("/accounts/signup/", {"email": email, "password1": password})


def code_in(message) -> str:
    match = re.search(r"^([A-Z0-9]{4}-[A-Z0-9]{4})$", str(message.body), re.MULTILINE)
    assert match, message.body
    return match.group(1)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_code_from_the_email_signs_the_person_in_without_a_second_login(client):
    response = sign_up(client, "Ada@Example.com")
    assert response["Location"] == WAITING
    [message] = mail.outbox
    code = code_in(message)

    page = client.get(WAITING)
    assert page.status_code == 200
    assert b"ada@example.com" in page.content
    assert b'autocomplete="one-time-code"' in page.content
    response = client.post(WAITING, {"action": "verify", "code": code.lower()})

    assert response.status_code == 302
    assert response["Location"] == "/account/"
    user = User.objects.get(email="ada@example.com")
    assert client.session["_auth_user_id"] == str(user.pk)
    assert EmailAddress.objects.get(user=user).verified
    assert AuditEvent.objects.filter(action="email.verified", target_id=str(user.pk)).exists()
    assert AuditEvent.objects.filter(action="login.succeeded", actor=user).exists()
    assert client.get("/account/").status_code == 200


def test_the_same_email_carries_a_link_that_works_on_another_device(client):
    sign_up(client, "ada@example.com")
    [message] = mail.outbox
    code_in(message)
    [link] = [link for link in links_in(message) if "/accounts/confirm-email/" in link]
    assert isinstance(message, EmailMultiAlternatives)
    html = dict((mimetype, body) for body, mimetype in message.alternatives)["text/html"]
    assert path_of(link) in str(html)
    assert code_in(message) in str(html)

    other_device = Client()
    response = other_device.post(path_of(link))

    assert response.status_code == 302
    assert EmailAddress.objects.get().verified
    assert not signed_in(other_device), "a link opened elsewhere verifies, it does not sign in"
    assert not signed_in(client)


def test_the_link_opened_in_the_browser_that_signed_up_signs_in_too(client):
    sign_up(client, "ada@example.com")
    [link] = [link for link in links_in(mail.outbox[0]) if "/accounts/confirm-email/" in link]

    client.post(path_of(link))

    assert signed_in(client)


def test_wrong_codes_are_audited_and_the_last_one_kills_the_code(client):
    sign_up(client, "ada@example.com")
    code = code_in(mail.outbox[0])

    for _ in range(2):
        response = client.post(WAITING, {"action": "verify", "code": "AAAA-AAAA"})
        assert response.status_code == 400
        assert b"That code is not right" in response.content
    response = client.post(WAITING, {"action": "verify", "code": "AAAA-AAAA"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"

    # The right code, now: dead, and the person is not signed in.
    response = client.post(WAITING, {"action": "verify", "code": code})
    assert not signed_in(client)
    assert not EmailAddress.objects.get().verified
    events = AuditEvent.objects.filter(action="signup.code_rejected")
    assert sorted(e.data["left"] for e in events) == [0, 1, 2]
    assert {e.actor_text for e in events} == {"ada@example.com"}


def test_a_new_code_waits_for_the_cooldown_then_replaces_the_old_one(client, settings):
    sign_up(client, "ada@example.com")
    first = code_in(mail.outbox[0])

    page = client.get(WAITING)
    assert re.search(rb'id="resend-code" data-cooldown="(5\d|60)" disabled', page.content)
    response = client.post(WAITING, {"action": "resend"}, follow=True)
    assert b"You can ask for a new code in" in response.content
    assert len(mail.outbox) == 1

    settings.GATEHOUSE_SIGNUP_CODE_RESEND_COOLDOWN = 0
    response = client.post(WAITING, {"action": "resend"}, follow=True)
    assert b"We sent a new code to ada@example.com" in response.content
    assert len(mail.outbox) == 2
    second = code_in(mail.outbox[1])
    assert second != first

    assert client.post(WAITING, {"action": "verify", "code": first}).status_code == 400
    client.post(WAITING, {"action": "verify", "code": second})
    assert signed_in(client)


def test_new_codes_run_out(client, settings):
    settings.GATEHOUSE_SIGNUP_CODE_RESEND_COOLDOWN = 0
    settings.GATEHOUSE_SIGNUP_CODE_MAX_RESENDS = 1
    sign_up(client, "ada@example.com")
    client.post(WAITING, {"action": "resend"})

    response = client.post(WAITING, {"action": "resend"}, follow=True)

    assert b"No more new codes" in response.content
    assert len(mail.outbox) == 2


def test_wrong_address_sends_the_code_to_the_right_one_and_keeps_the_password(client):
    sign_up(client, "ada@exmaple.com")
    mail.outbox.clear()

    response = client.post(WAITING, {"action": "change", "email": "ada@example.com"})

    assert response["Location"] == WAITING
    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert b"ada@example.com" in client.get(WAITING).content
    client.post(WAITING, {"action": "verify", "code": code_in(message)})
    user = User.objects.get(email="ada@example.com")
    assert client.session["_auth_user_id"] == str(user.pk)
    assert user.check_password(STRONG), "the password typed at sign-up carried over"
    assert EmailAddress.objects.get(user=user).verified
    # The typo's account is left as any abandoned sign-up: unverified, never signed in.
    typo = User.objects.get(email="ada@exmaple.com")
    assert not EmailAddress.objects.get(user=typo).verified


def test_wrong_address_changed_to_a_taken_one_emails_its_owner(client):
    owner = UserFactory(email="owner@example.com")
    sign_up(client, "someone@example.com")
    mail.outbox.clear()

    response = client.post(WAITING, {"action": "change", "email": owner.email})

    assert response["Location"] == WAITING
    [message] = mail.outbox
    assert message.to == [owner.email]
    assert "already" in message.subject.lower() or "already" in str(message.body).lower()
    assert User.objects.filter(email=owner.email).count() == 1
    page = client.get(WAITING)
    assert page.status_code == 200
    assert owner.email.encode() in page.content


def test_address_changes_run_out(client):
    sign_up(client, "a1@example.com")
    client.post(WAITING, {"action": "change", "email": "a2@example.com"})
    client.post(WAITING, {"action": "change", "email": "a3@example.com"})

    response = client.post(WAITING, {"action": "change", "email": "a4@example.com"}, follow=True)

    assert not User.objects.filter(email="a4@example.com").exists()
    assert b"Wrong address?" in response.content


def test_start_over_forgets_the_pending_sign_up(client):
    sign_up(client, "ada@example.com")
    code = code_in(mail.outbox[0])

    response = client.post(WAITING, {"action": "restart"})

    assert response["Location"] == "/accounts/signup/"
    assert client.get("/accounts/signup/").status_code == 200
    client.post(WAITING, {"action": "verify", "code": code})
    assert not signed_in(client)


def test_the_waiting_page_without_a_code_in_this_browser_points_to_the_link():
    response = Client().get(WAITING)

    assert response.status_code == 200
    assert b"Follow its link" in response.content


def test_a_person_with_a_second_factor_still_passes_it_after_the_code(client):
    user = UserFactory(email="ada@example.com")
    EmailAddress.objects.filter(user=user).update(verified=False)
    enroll_totp(user)

    response = client.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    assert response["Location"] == WAITING
    response = client.post(WAITING, {"action": "verify", "code": code_in(mail.outbox[-1])})

    assert response["Location"].startswith("/accounts/2fa/")
    assert not signed_in(client)
    assert EmailAddress.objects.get(user=user).verified


@pytest.mark.parametrize(
    "data",
    [
        {"action": "verify", "code": ""},
        {"action": "verify"},
        {"action": "verify", "code": "x" * 100_000},
        {"action": "verify", "code": "\x00\u00e9"},
        {"action": "change", "email": "not an address"},
        {"action": "change", "email": "a" * 300 + "@example.com"},
        {"action": "change"},
        {"action": "no-such-action", "code": "AAAA-AAAA"},
    ],
)
def test_bad_input_on_the_waiting_page_is_a_form_error(client, data):
    sign_up(client, "ada@example.com")

    response = client.post(WAITING, data)

    assert response.status_code == 400
    assert User.objects.count() == 1
    assert not signed_in(client)
