"""No account enumeration on the sign-up waiting page: after a sign-up with a taken address,
the page, a wrong code, a new code and "Wrong address?" answer and work as after a sign-up
with a free one (accounts/signup_code.py, accounts/signup_change.py)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from django.test import Client

from accounts.models import OutboundEmail, User
from tests.accounts.test_enumeration import normalized
from tests.accounts.work import WorkMeter
from tests.factories import UserFactory

STRONG = "violet-Anchor-quarry-81"
SIGNUP = "/accounts/signup/"
WAITING = "/accounts/confirm-email/"
DECOY_ROLLBACK = Counter({"ROLLBACK TO SAVEPOINT": 1})


@pytest.fixture
def known() -> User:
    return UserFactory(email="known@example.com")


@pytest.fixture
def meter(monkeypatch) -> WorkMeter:
    return WorkMeter(monkeypatch)


def waiting_client(email: str, ip: str = "203.0.113.9") -> tuple[Client, Any]:
    client = Client(REMOTE_ADDR=ip)
    response = client.post(SIGNUP, {"email": email, "password1": STRONG})
    return client, response


def page(response, email: str) -> tuple[int, str, str]:
    status, location, body = normalized(response, email)
    # The cooldown's seconds count down from each browser's own sign-up.
    return status, location, re.sub(r'data-cooldown="\d+"|data-cooldown-left>\d+<', "N", body)


def test_the_waiting_page_and_its_cookies_are_a_new_accounts(known):
    taken, taken_signup = waiting_client(known.email)
    fresh, fresh_signup = waiting_client("fresh@example.com")

    assert sorted(taken_signup.cookies) == sorted(fresh_signup.cookies)
    assert taken_signup["Location"] == fresh_signup["Location"] == WAITING
    assert page(taken.get(WAITING), known.email) == page(fresh.get(WAITING), "fresh@example.com")
    assert b"Wrong address?" in fresh.get(WAITING).content


def test_wrong_codes_answer_alike_down_to_the_last(known):
    taken, _ = waiting_client(known.email)
    fresh, _ = waiting_client("fresh@example.com")

    for _ in range(3):
        wrong = {"action": "verify", "code": "AAAA-AAAA"}
        a = taken.post(WAITING, wrong, follow=True)
        b = fresh.post(WAITING, wrong, follow=True)
        assert page(a, known.email) == page(b, "fresh@example.com")


def test_a_new_code_answers_alike(known, settings):
    settings.GATEHOUSE_SIGNUP_CODE_RESEND_COOLDOWN = 0
    taken, _ = waiting_client(known.email)
    fresh, _ = waiting_client("fresh@example.com")

    a = taken.post(WAITING, {"action": "resend"}, follow=True)
    b = fresh.post(WAITING, {"action": "resend"}, follow=True)

    assert page(a, known.email) == page(b, "fresh@example.com")
    assert b"We sent a new code" in b.content


def test_wrong_address_answers_alike_whatever_the_first_address_was(known):
    taken, _ = waiting_client(known.email)
    fresh, _ = waiting_client("fresh@example.com")
    taken.get(WAITING), fresh.get(WAITING)  # the sign-up's own message, shown and gone

    a = taken.post(WAITING, {"action": "change", "email": "new-1@example.com"})
    b = fresh.post(WAITING, {"action": "change", "email": "new-2@example.com"})

    assert (a.status_code, a["Location"]) == (b.status_code, b["Location"]) == (302, WAITING)
    assert sorted(a.cookies) == sorted(b.cookies)
    assert page(taken.get(WAITING), "new-1@example.com") == page(
        fresh.get(WAITING), "new-2@example.com"
    )
    # Both became real sign-ups at the new address, with the password typed at the first.
    for email in ("new-1@example.com", "new-2@example.com"):
        assert User.objects.get(email=email).check_password(STRONG)


# --- The work behind the answers ---------------------------------------------------------------


def test_a_wrong_code_does_a_new_accounts_work(known, meter):
    def wrong(email: str):
        client, _ = waiting_client(email)
        return meter.post(WAITING, {"action": "verify", "code": "AAAA-AAAA"}, client=client)

    wrong("warm-up@example.com")
    taken = wrong(known.email)
    fresh = wrong("fresh@example.com")

    assert taken == fresh
    assert fresh.statements["INSERT audit_auditevent"] == 1
    assert fresh.answer[0] == 400


def test_a_new_code_does_a_new_accounts_work(known, meter, settings):
    settings.GATEHOUSE_SIGNUP_CODE_RESEND_COOLDOWN = 0

    def resend(email: str):
        client, _ = waiting_client(email)
        return meter.post(WAITING, {"action": "resend"}, client=client)

    resend("warm-up@example.com")
    taken = resend(known.email)
    fresh = resend("fresh@example.com")

    assert taken == fresh
    assert fresh.emails_written == fresh.email_tasks_queued == 1
    # The owner of the taken address is not emailed again: written, queued, held back.
    assert OutboundEmail.objects.filter(to=known.email, status="held_back").count() == 1


def test_wrong_address_does_the_same_work_whatever_the_first_address_was(known, meter):
    def change(first: str, new: str):
        client, _ = waiting_client(first)
        return meter.post(WAITING, {"action": "change", "email": new}, client=client)

    change("warm-up@example.com", "warm-up-2@example.com")
    taken = change(known.email, "new-1@example.com")
    fresh = change("fresh@example.com", "new-2@example.com")

    assert taken == fresh
    assert fresh.password_hashes == 0, "the kept hash is used; nothing is hashed again"
    assert fresh.statements["INSERT accounts_user"] == 1


def test_wrong_address_changed_to_a_taken_one_does_a_new_accounts_work(known, meter):
    def change(new: str):
        client, _ = waiting_client(f"first-{new}")
        return meter.post(WAITING, {"action": "change", "email": new}, client=client)

    change("warm-up@example.com")
    taken = change(known.email)
    fresh = change("fresh@example.com")

    assert taken.without(statements=DECOY_ROLLBACK) == fresh
    assert fresh.emails_written == fresh.email_tasks_queued == 1
