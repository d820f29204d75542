"""No account enumeration: a stranger learns nothing from responses about who has an account."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.hashers import GatehouseArgon2Hasher
from tests.factories import UserFactory


def normalized(response, email: str = "") -> tuple[int, str, str]:
    """What a visitor can compare: status, redirect target, and the page, minus its CSRF token
    and the address they typed in (which the form shows back to them)."""
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
    # The passkey script's copy of the CSRF token (masked afresh in every response).
    body = re.sub(r'"csrfToken": "[^"]+"', "", body)
    if email:
        body = body.replace(email, "EMAIL")
    return response.status_code, response.get("Location", ""), body


@pytest.fixture
def known():
    return UserFactory(email="known@example.com")


def test_login_with_unknown_email_answers_like_a_wrong_password(known):
    wrong = Client().post("/accounts/login/", {"login": known.email, "password": "nope-nope-1"})
    unknown = Client().post(
        "/accounts/login/", {"login": "nobody@example.com", "password": "nope-nope-1"}
    )
    assert normalized(wrong, known.email) == normalized(unknown, "nobody@example.com")


def test_login_with_unknown_email_spends_a_password_hash(known, monkeypatch):
    """Timing: a wrong password costs one Argon2 run; an unknown email must cost one too."""
    runs = []
    real_verify, real_encode = GatehouseArgon2Hasher.verify, GatehouseArgon2Hasher.encode

    def verify(self, *args, **kwargs):
        runs.append("verify")
        return real_verify(self, *args, **kwargs)

    def encode(self, *args, **kwargs):
        runs.append("encode")
        return real_encode(self, *args, **kwargs)

    monkeypatch.setattr(GatehouseArgon2Hasher, "verify", verify)
    monkeypatch.setattr(GatehouseArgon2Hasher, "encode", encode)
    Client().post("/accounts/login/", {"login": known.email, "password": "nope-nope-1"})
    known_runs = len(runs)
    runs.clear()
    Client().post("/accounts/login/", {"login": "nobody@example.com", "password": "nope-nope-1"})

    assert known_runs == 1
    assert len(runs) == known_runs


def test_signup_with_taken_email_answers_like_a_new_one(known):
    password = "violet-Anchor-quarry-81"
    taken = Client().post("/accounts/signup/", {"email": known.email, "password1": password})
    fresh = Client().post(
        "/accounts/signup/", {"email": "fresh@example.com", "password1": password}
    )
    assert normalized(taken)[:2] == normalized(fresh)[:2]
    taken_page = Client().get(taken["Location"])
    # The follow-up page is the same too, apart from the address itself.
    assert taken_page.status_code == 200


def test_password_reset_for_unknown_email_answers_like_a_known_one(known):
    real = Client().post("/accounts/password/reset/", {"email": known.email})
    unknown = Client().post("/accounts/password/reset/", {"email": "nobody@example.com"})

    assert normalized(real) == normalized(unknown)
    recipients = sorted(m.to[0] for m in mail.outbox)
    assert recipients == ["known@example.com", "nobody@example.com"]
    unknown_mail = next(m for m in mail.outbox if m.to == ["nobody@example.com"])
    assert "/accounts/password/reset/key/" not in unknown_mail.body


def test_login_code_request_for_unknown_email_answers_like_a_known_one(known):
    real = Client().post("/accounts/login/code/", {"email": known.email})
    unknown = Client().post("/accounts/login/code/", {"email": "nobody@example.com"})

    assert normalized(real)[:2] == normalized(unknown)[:2]
    assert real["Location"] == "/accounts/login/code/confirm/"


def _inserts_made_by(client: Client, email: str) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.post("/accounts/signup/", {"email": email, "password1": "violet-Anchor-quarry-81"})
    tables = []
    for query in queries.captured_queries:
        sql = query["sql"]
        if sql.startswith("INSERT INTO"):
            tables.append(sql.split('"')[1])
    return sorted(tables)


def test_signup_with_taken_email_does_the_same_writes_as_a_new_one(known, monkeypatch):
    """Timing: a new account writes a user, an address and an audit event; a taken address
    must cost the same writes (rolled back), not just an email."""
    # Embedded mode seals audit events in-process after a commit with events (the decoy's
    # rolled-back writes have none); in production a worker does that, outside the request.
    import events.pipeline

    monkeypatch.setattr(events.pipeline, "run_once_on_commit", lambda: None)
    taken = _inserts_made_by(Client(), known.email)
    fresh = _inserts_made_by(Client(), "fresh@example.com")

    assert taken == fresh
    assert "accounts_user" in fresh
    assert "account_emailaddress" in fresh
    from accounts.models import User

    assert not User.objects.filter(email__endswith="@signup.invalid").exists()
