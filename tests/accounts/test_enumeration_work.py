"""No account enumeration by timing: wherever a stranger can try an address (sign-up, login,
password reset, login code), a taken address and a free one cost the same work.

Tests cannot assert on time, so these pin the work instead: the statements sent to the
database, password hashes, cache calls, emails written and tasks queued, and the answer
(accounts/enumeration.py says how each path is kept even). bench/enumeration.py measures the
time itself against a real server.
"""

from __future__ import annotations

from collections import Counter

import pytest
from allauth.account.forms import EmailAwarePasswordResetTokenGenerator
from django.core import mail
from django.test import Client

from accounts.models import OutboundEmail, User
from accounts.tokens import PasswordResetTokenGenerator
from tests.accounts.work import WorkMeter
from tests.factories import UserFactory

STRONG = "violet-Anchor-quarry-81"
SIGNUP = "/accounts/signup/"


@pytest.fixture
def meter(monkeypatch) -> WorkMeter:
    return WorkMeter(monkeypatch)


@pytest.fixture
def known() -> User:
    return UserFactory(email="known@example.com")


def sign_up(meter: WorkMeter, email: str):
    return meter.post(SIGNUP, {"email": email, "password1": STRONG})


# A decoy account's writes are rolled back: the one statement a new account does not send.
DECOY_ROLLBACK = Counter({"ROLLBACK TO SAVEPOINT": 1})


def test_sign_up_with_a_taken_address_does_a_new_accounts_work(known, meter):
    sign_up(meter, "warm-up@example.com")  # first-request caches, on neither side
    taken = sign_up(meter, known.email)
    fresh = sign_up(meter, "fresh@example.com")

    assert taken.without(statements=DECOY_ROLLBACK) == fresh
    assert fresh.password_hashes == 1
    assert fresh.statements["INSERT accounts_user"] == 1
    assert fresh.statements["INSERT account_emailaddress"] == 1
    assert fresh.emails_written == fresh.email_tasks_queued == 1
    assert not User.objects.filter(email__endswith="@signup.invalid").exists()


def test_sign_up_again_inside_the_emails_cooldown_still_answers_and_works_alike(known, meter):
    """The owner gets one "account exists" email per cooldown. allauth skipped the email and
    the "sent" message inside it, which answered faster and showed the address was taken; the
    email is now written and queued all the same, but held back."""
    sign_up(meter, "warm-up@example.com")
    sign_up(meter, known.email)  # the owner is emailed; the cooldown starts
    again = sign_up(meter, known.email)
    fresh = sign_up(meter, "fresh@example.com")

    # Inside the cooldown allauth's limiter only reads its history; it writes it when it lets
    # an email through (one cache write, a fraction of a millisecond).
    assert again.without(statements=DECOY_ROLLBACK) == fresh.without(
        cache_calls=Counter({"set": 1})
    )
    assert again.answer == fresh.answer
    assert "messages" in again.answer[2]
    to_owner = OutboundEmail.objects.filter(to=known.email).order_by("created_at")
    assert [email.status for email in to_owner] == ["sent", "held_back"]
    assert to_owner[1].text_body == to_owner[1].html_body == ""
    assert [m.subject for m in mail.outbox if m.to == [known.email]] == [to_owner[0].subject]


def test_login_with_an_unknown_address_does_a_wrong_passwords_work(known, meter):
    meter.post("/accounts/login/", {"login": "warm-up@example.com", "password": "nope-nope-1"})
    wrong = meter.post("/accounts/login/", {"login": known.email, "password": "nope-nope-1"})
    unknown = meter.post(
        "/accounts/login/", {"login": "nobody@example.com", "password": "nope-nope-1"}
    )

    # allauth's login backend also reads the user table when no verified address matched
    # (Gatehouse leaves its backend alone: sessions name it). One indexed read, below what
    # bench/enumeration.py can tell apart next to the password hash.
    assert unknown.without(statements=Counter({"SELECT accounts_user": 1})) == wrong
    assert wrong.password_hashes == 1


def test_password_reset_for_an_unknown_address_does_a_known_ones_work(known, meter):
    meter.post("/accounts/password/reset/", {"email": "warm-up@example.com"})
    real = meter.post("/accounts/password/reset/", {"email": known.email})
    unknown = meter.post("/accounts/password/reset/", {"email": "nobody@example.com"})

    assert unknown == real
    assert real.emails_written == real.email_tasks_queued == 1


def test_login_code_for_an_unknown_address_does_a_known_ones_work(known, meter):
    meter.post("/accounts/login/code/", {"email": "warm-up@example.com"})
    real = meter.post("/accounts/login/code/", {"email": known.email})
    unknown = meter.post("/accounts/login/code/", {"email": "nobody@example.com"})

    assert unknown == real
    assert real.emails_written == real.email_tasks_queued == 1


def test_a_wrong_login_code_for_an_unknown_address_does_a_known_ones_work(known, meter):
    def wrong_code(email: str):
        client = Client(REMOTE_ADDR="203.0.113.8")
        client.post("/accounts/login/code/", {"email": email})
        return meter.post("/accounts/login/code/confirm/", {"code": "WRONG1"}, client=client)

    wrong_code("warm-up@example.com")
    real = wrong_code(known.email)
    unknown = wrong_code("nobody@example.com")

    assert unknown == real
    assert real.statements["INSERT audit_auditevent"] == 1
    assert real.answer[0] == 200


def test_reset_tokens_are_allauths_so_links_already_sent_keep_working(known):
    allauth_token = EmailAwarePasswordResetTokenGenerator().make_token(known)
    assert PasswordResetTokenGenerator().check_token(known, allauth_token)
    known.emailaddress_set.create(email="second@example.com")
    assert not PasswordResetTokenGenerator().check_token(known, allauth_token)
