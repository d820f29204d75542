"""Sign-up with mandatory email verification."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.mail import EmailMultiAlternatives

from accounts.models import OutboundEmail, User
from audit.models import AuditEvent
from tests.accounts.work import TransactionLog
from tests.conftest import links_in, path_of
from tests.factories import UserFactory

STRONG = "violet-Anchor-quarry-81"


def sign_up(client, email: str, password: str = STRONG):
    return client.post("/accounts/signup/", {"email": email, "password1": password})


def verification_path(message) -> str:
    [link] = [link for link in links_in(message) if "/accounts/confirm-email/" in link]
    return path_of(link)


def test_signup_creates_unverified_user_and_sends_verification_email(client):
    response = sign_up(client, "New.Person@Example.com")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    user = User.objects.get()
    assert user.email == "new.person@example.com"
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert not EmailAddress.objects.get(user=user).verified
    [message] = mail.outbox
    assert isinstance(message, EmailMultiAlternatives)
    assert message.to == ["new.person@example.com"]
    assert "/accounts/confirm-email/" in message.body
    html = dict((mimetype, body) for body, mimetype in message.alternatives)["text/html"]
    assert isinstance(html, str)
    assert verification_path(message) in html
    outbound = OutboundEmail.objects.get()
    assert outbound.status == OutboundEmail.Status.SENT
    assert outbound.text_body == "", "sent bodies are erased"
    assert outbound.html_body == "", "sent bodies are erased"
    assert AuditEvent.objects.filter(action="user.signed_up", actor=user).exists()
    # Not signed in until the address is verified.
    assert "_auth_user_id" not in client.session


def test_verification_link_verifies_and_then_login_works(client):
    sign_up(client, "ada@example.com")
    path = verification_path(mail.outbox[0])

    assert client.get(path).status_code == 200  # GET only shows a confirm button
    assert not EmailAddress.objects.get().verified
    response = client.post(path)

    assert response.status_code == 302
    address = EmailAddress.objects.get()
    assert address.verified
    assert address.primary
    event = AuditEvent.objects.get(action="email.verified")
    assert event.data == {"email": "ada@example.com"}
    response = client.post("/accounts/login/", {"login": "ada@example.com", "password": STRONG})
    assert response.status_code == 302
    assert client.get("/account/").status_code == 200


def test_login_before_verification_is_refused_and_resends(client):
    sign_up(client, "ada@example.com")
    mail.outbox.clear()
    client.cookies.clear()

    response = client.post("/accounts/login/", {"login": "ada@example.com", "password": STRONG})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    assert "_auth_user_id" not in client.session
    assert client.get("/account/").status_code == 302


def test_expired_verification_link_is_refused_clearly(client, settings):
    sign_up(client, "ada@example.com")
    path = verification_path(mail.outbox[0])
    settings.ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = 0

    response = client.post(path)

    assert response.status_code == 400
    assert b"expired or is invalid" in response.content
    assert not EmailAddress.objects.get().verified


def test_reused_verification_link_does_nothing_more(client):
    sign_up(client, "ada@example.com")
    path = verification_path(mail.outbox[0])
    client.post(path)

    response = client.post(path)

    assert response.status_code < 500
    assert AuditEvent.objects.filter(action="email.verified").count() == 1


@pytest.mark.parametrize("key", ["garbage", "A" * 300, "MQ:1abc:zzz"])
def test_malformed_verification_key_gets_clear_page(client, key):
    response = client.get(f"/accounts/confirm-email/{key}/")
    assert response.status_code == 200
    assert b"expired or is invalid" in response.content


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [
        ("not-an-email", STRONG, "email"),
        ("x" * 250 + "@example.com", STRONG, "email"),
        ("ada@example.com", "short", "password1"),
        ("ada@example.com", "password123", "password1"),
        ("ada.lovelace@example.com", "ada.lovelace", "password1"),
        ("ada@example.com", "9" * 12, "password1"),
    ],
)
def test_bad_signup_input_is_a_form_error_and_creates_nothing(client, email, password, field):
    response = sign_up(client, email, password)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert User.objects.count() == 0
    assert mail.outbox == []


def test_signup_with_taken_email_looks_like_a_new_signup(client):
    existing = UserFactory(email="taken@example.com")

    taken = sign_up(client, "TAKEN@example.com")
    fresh = sign_up(client.__class__(), "fresh@example.com")

    assert (taken.status_code, taken["Location"]) == (fresh.status_code, fresh["Location"])
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1
    assert User.objects.get(email__iexact="taken@example.com").pk == existing.pk
    to_taken = [m for m in mail.outbox if m.to == ["taken@example.com"]]
    assert len(to_taken) == 1, "the owner is told someone tried to sign up with their address"
    assert "/accounts/password/reset/" in to_taken[0].body


def test_signups_are_rate_limited_per_address():
    from django.test import Client

    for n in range(20):
        assert sign_up(Client(), f"person{n}@example.com").status_code == 302

    response = sign_up(Client(), "one.too.many@example.com")

    assert response.status_code == 429
    assert not User.objects.filter(email="one.too.many@example.com").exists()


@pytest.mark.django_db(transaction=True)
def test_a_sign_up_writes_its_rows_in_one_transaction(client, monkeypatch):
    """The account, its address, its audit event and its verification email commit together
    (the email is sent once they have), not one row at a time."""
    with TransactionLog(monkeypatch) as log:
        assert sign_up(client, "together@example.com").status_code == 302

    [transaction] = log.transactions_of(
        "INSERT accounts_user",
        "INSERT account_emailaddress",
        "INSERT audit_auditevent",
        "INSERT accounts_outboundemail",
    )
    assert transaction is not None
    assert len(mail.outbox) == 1
