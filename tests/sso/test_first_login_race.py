"""Two first sign-ins of the same person at the same moment (a double-click, two tabs) make one
account: the one that loses the race gets a refusal it can retry, never a 500.

PostgreSQL only: concurrent requests in threads, each on its own connection (SQLite's shared
in-memory test database cannot be used from two threads).
"""

from __future__ import annotations

import threading

import pytest
from allauth.socialaccount.models import SocialAccount
from django.db import connection, connections
from django.test import Client

from accounts.models import User
from sso import admission
from tests.conftest import require
from tests.factories import UserFactory
from tests.sso.conftest import HOST, failed_checks, saml_post, saml_start

# Threads, each on its own connection, see only what the test committed.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql():
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL) for concurrent requests")


@pytest.mark.parametrize("account", ["new", "existing"])
def test_two_first_logins_at_once_make_one_account(account, saml_idp, saml, monkeypatch):
    if account == "existing":
        UserFactory(email="ada@acme.test")  # verified: both logins link the identity to it
    browsers = [Client(HTTP_HOST=HOST, raise_request_exception=False) for _ in range(2)]
    answers = [saml_idp.answer(saml_start(b, saml), user="ada@acme.test") for b in browsers]
    # Both logins pass every check, and both decide to create the account, before either
    # has created it.
    barrier = threading.Barrier(2, timeout=20)
    decide = admission.admit

    def decide_then_wait(*args, **kwargs):
        admission = decide(*args, **kwargs)
        barrier.wait()
        return admission

    monkeypatch.setattr(admission, "admit", decide_then_wait)
    statuses = [0, 0]

    def finish(i: int) -> None:
        try:
            statuses[i] = saml_post(browsers[i], answers[i]).status_code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=finish, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [302, 409], statuses
    assert User.objects.filter(email="ada@acme.test").count() == 1
    assert SocialAccount.objects.filter(provider=saml.slug).count() == 1
    assert failed_checks(saml) == ["concurrent_login"]
