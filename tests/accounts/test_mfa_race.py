"""A one-time code works once, even when the same code arrives twice at the same moment.

These need PostgreSQL: concurrent requests in threads, each on its own connection, racing
for the same row (SQLite's shared in-memory test database cannot be used from two threads).
"""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connection, connections
from django.test import Client

from accounts.mfa.services import enrollment
from tests.accounts.mfa_helpers import (
    enroll_email,
    enroll_totp,
    is_logged_in,
    password_step,
    totp_now,
)
from tests.accounts.test_mfa_login import email_code
from tests.conftest import require

RACERS = 4

# Threads, each on its own connection, see only what the test committed.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql():
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL) for concurrent requests")


def at_once(clients: list[Client], path: str, data: dict) -> list[int]:
    barrier = threading.Barrier(len(clients))
    results: list[int] = [0] * len(clients)

    def go(i: int) -> None:
        try:
            barrier.wait()
            results[i] = clients[i].post(path, data).status_code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def waiting_at_second_step(user) -> list[Client]:
    clients = [Client() for _ in range(RACERS)]
    for client in clients:
        assert password_step(client, user)["Location"] == "/accounts/2fa/"
    return clients


def assert_one_got_in(results: list[int]) -> None:
    """One racer is let in; every other is refused: the code is spent (400), or, once a loser's
    failure has committed, the factor is throttled for the rest (429). Services commit their
    own transactions, so which of the two a late racer sees depends on timing."""
    assert sorted(results)[0] == 302, results
    assert results.count(302) == 1, results
    assert set(results) - {302} <= {400, 429}, results


def test_same_totp_code_at_once_logs_in_once(user):
    device = enroll_totp(user)
    clients = waiting_at_second_step(user)

    results = at_once(clients, "/accounts/2fa/", {"kind": "totp", "code": totp_now(device)})

    assert_one_got_in(results)
    assert sum(is_logged_in(c, user) for c in clients) == 1


def test_same_backup_code_at_once_logs_in_once(user):
    enroll_totp(user)
    codes = enrollment.regenerate_backup_codes(user=user)
    clients = waiting_at_second_step(user)

    results = at_once(clients, "/accounts/2fa/", {"kind": "backup_code", "code": codes[0]})

    assert_one_got_in(results)
    assert sum(is_logged_in(c, user) for c in clients) == 1


def test_same_email_code_at_once_logs_in_once(user):
    enroll_email(user)
    clients = waiting_at_second_step(user)
    mail.outbox.clear()
    clients[0].post("/accounts/2fa/email/")
    [message] = mail.outbox
    code = email_code(message)

    results = at_once(clients, "/accounts/2fa/", {"kind": "email", "code": code})

    assert_one_got_in(results)
    assert sum(is_logged_in(c, user) for c in clients) == 1


def test_code_requests_at_once_send_one_email(user):
    enroll_email(user)
    clients = waiting_at_second_step(user)
    mail.outbox.clear()

    at_once(clients, "/accounts/2fa/email/", {})

    assert len(mail.outbox) == 1
