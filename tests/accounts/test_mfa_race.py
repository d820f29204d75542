"""A one-time code works once, even when the same code arrives twice at the same moment.

These need PostgreSQL: concurrent requests in threads, each on its own connection, racing
for the same row (SQLite's shared in-memory test database cannot be used from two threads).
"""

from __future__ import annotations

import re
import threading
from unittest import mock

import pytest
from django.core import mail
from django.db import connection, connections
from django.test import Client

from accounts.mfa import services as mfa_services
from tests.accounts.mfa_helpers import (
    enroll_email,
    enroll_totp,
    is_logged_in,
    password_step,
    totp_now,
)
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


def test_same_totp_code_at_once_logs_in_once(user):
    device = enroll_totp(user)
    clients = waiting_at_second_step(user)

    results = at_once(clients, "/accounts/2fa/", {"kind": "totp", "code": totp_now(device)})

    assert sorted(results) == [302] + [400] * (RACERS - 1), results
    assert sum(is_logged_in(c, user) for c in clients) == 1


def test_same_backup_code_at_once_logs_in_once(user):
    enroll_totp(user)
    request = mock.Mock(user=user)
    with mock.patch("accounts.mfa.services._notify"):
        codes = mfa_services.regenerate_backup_codes(request=request, user=user)
    clients = waiting_at_second_step(user)

    results = at_once(clients, "/accounts/2fa/", {"kind": "backup_code", "code": codes[0]})

    assert sorted(results) == [302] + [400] * (RACERS - 1), results
    assert sum(is_logged_in(c, user) for c in clients) == 1


def test_same_email_code_at_once_logs_in_once(user):
    enroll_email(user)
    clients = waiting_at_second_step(user)
    mail.outbox.clear()
    clients[0].post("/accounts/2fa/email/")
    [message] = mail.outbox
    code = re.search(r"\b(\d{6})\b", message.body).group(1)

    results = at_once(clients, "/accounts/2fa/", {"kind": "email", "code": code})

    assert sorted(results) == [302] + [400] * (RACERS - 1), results


def test_code_requests_at_once_send_one_email(user):
    enroll_email(user)
    clients = waiting_at_second_step(user)
    mail.outbox.clear()

    at_once(clients, "/accounts/2fa/email/", {})

    assert len(mail.outbox) == 1
