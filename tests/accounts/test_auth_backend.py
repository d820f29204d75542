"""Password authentication (accounts/auth_backends.py): allauth's rules, one lookup, one hash."""

from __future__ import annotations

from collections import Counter

import pytest
from allauth.account.models import EmailAddress
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.auth_backends import users_for_login
from accounts.hashers import GatehouseArgon2Hasher
from audit.models import AuditEvent
from tests.accounts.work import statement
from tests.factories import DEFAULT_PASSWORD, UserFactory

ALLAUTH_BACKEND = "allauth.account.auth_backends.AuthenticationBackend"


@pytest.fixture
def hashes(monkeypatch) -> Counter[str]:
    counted: Counter[str] = Counter()
    for name in ("encode", "verify"):
        real = getattr(GatehouseArgon2Hasher, name)

        def counting(hasher, *args, _name=name, _real=real, **kwargs):
            counted[_name] += 1
            return _real(hasher, *args, **kwargs)

        monkeypatch.setattr(GatehouseArgon2Hasher, name, counting)
    return counted


def login(client: Client, email: str, password: str = DEFAULT_PASSWORD):
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_a_login_by_a_verified_address_reads_the_addresses_once(client, user):
    with CaptureQueriesContext(connection) as queries:
        response = login(client, user.email.upper())

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    # The lookup also answered the email-verification stage's question.
    assert sum('"account_emailaddress"' in sql for sql in reads) == 1
    assert not any(statement(sql) == "SELECT accounts_user" for sql in reads)


@pytest.mark.parametrize("who", ["wrong password", "no such account"])
def test_a_refused_password_costs_one_hash_and_one_audit_event(client, user, hashes, who):
    """allauth's backend, listed after Gatehouse's, does not try the password again."""
    email = user.email if who == "wrong password" else "nobody@example.com"

    response = login(client, email, "not-the-password-1")

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert sum(hashes.values()) == 1
    [event] = AuditEvent.objects.filter(action="login.failed")
    assert event.actor_text == email


def test_sessions_signed_by_allauths_backend_stay_signed_in(user):
    client = Client()
    client.force_login(user, backend=ALLAUTH_BACKEND)

    assert client.get("/account/").status_code == 200


def test_new_sessions_name_gatehouses_backend(client, user):
    login(client, user.email)

    assert client.session["_auth_user_backend"] == "accounts.auth_backends.AuthenticationBackend"


def test_the_owner_of_the_verified_address_is_preferred():
    owner = UserFactory(email="owner@example.com")
    other = UserFactory(email="other@example.com")
    EmailAddress.objects.create(user=other, email="shared@example.com", verified=False)
    EmailAddress.objects.create(user=owner, email="shared@example.com", verified=True)

    assert [u.pk for u in users_for_login("Shared@Example.com")] == [owner.pk]


def test_without_a_verified_address_every_candidate_is_tried():
    """As allauth: owners of unverified matching addresses and users whose own email matches."""
    by_field = UserFactory(email="someone@example.com", verified=False)
    EmailAddress.objects.filter(user=by_field).delete()
    by_address = UserFactory(email="else@example.com")
    EmailAddress.objects.create(user=by_address, email="someone@example.com", verified=False)

    found = {u.pk for u in users_for_login("someone@example.com")}

    assert found == {by_field.pk, by_address.pk}


def test_an_inactive_account_with_the_right_password_is_told_so(client):
    user = UserFactory(is_active=False)

    response = login(client, user.email)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/inactive/"
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("second_factor", [True, False])
def test_the_lookup_also_tells_the_login_whether_a_second_step_is_due(client, user, second_factor):
    from tests.accounts.mfa_helpers import enroll_totp

    if second_factor:
        enroll_totp(user)

    with CaptureQueriesContext(connection) as queries:
        response = login(client, user.email)

    assert response["Location"] == ("/accounts/2fa/" if second_factor else "/account/")
    assert ("_auth_user_id" in client.session) is not second_factor
    # No statement about the factors besides the lookup itself.
    about_factors = [q["sql"] for q in queries.captured_queries if "otp_totp" in q["sql"]]
    assert len(about_factors) == 1
    assert '"account_emailaddress"' in about_factors[0]
