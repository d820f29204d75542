"""The IdP's key set is read again for an ID token whose key id Gatehouse does not know (the
IdP rotated its keys), but at most once per connection per interval
(``SSO_JWKS_REFETCH_INTERVAL_SECONDS``): sign-ins naming unknown keys are refused by name
(``signing_key``) without a fetch each. Requests are counted at the IdPs themselves: the
forging provider (tests/sso/forger.py) and the real oidc-provider (tests/sso/idp/)."""

from __future__ import annotations

import time

import pytest
from allauth.socialaccount.models import SocialAccount
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.cache import cache
from django.db import transaction

from accounts.models import User
from sso.oidc import keys
from sso.services import logins
from tests.sso.conftest import (
    assert_refused,
    browser,
    failed_checks,
    forged_login,
    oidc_connection,
    oidc_login,
    session_user,
)
from tests.sso.forger import _public_jwk

SIGN_INS = 5


@pytest.fixture
def forged(acme_org, forger):
    return oidc_connection(acme_org, forger, name="Forged IdP")


def signs_in(forger, connection) -> User:
    client = browser()
    _, done = forged_login(client, forger, connection)
    assert done.status_code == 302, failed_checks(connection)
    user = session_user(client)
    assert user is not None
    return user


def test_unknown_key_ids_read_the_key_set_again_at_most_once(forger, forged):
    signs_in(forger, forged)  # the key set is read once and cached
    assert forger.jwks_requests == 1
    forger.claims = {"sub": "mallory-sub", "email": "mallory@acme.test"}

    for i in range(SIGN_INS):
        client = browser()
        _, done = forged_login(client, forger, forged, kid=f"unknown-{i}")
        assert_refused(client, done, forged, "signing_key")
        assert b"signing_key" in done.content

    assert forger.jwks_requests == 2  # the first unknown key id read it again; no other did
    assert failed_checks(forged) == ["signing_key"] * SIGN_INS
    assert not User.objects.filter(email="mallory@acme.test").exists()
    assert not SocialAccount.objects.filter(uid="mallory-sub").exists()


def test_the_interval_is_per_connection_and_ends(forger, forged, acme_org, settings):
    settings.SSO_JWKS_REFETCH_INTERVAL_SECONDS = 1
    other = oidc_connection(acme_org, forger, name="Same IdP, another connection")
    signs_in(forger, forged)
    assert forger.jwks_requests == 1

    for connection in (forged, forged, other, other):
        client = browser()
        _, done = forged_login(client, forger, connection, kid="nope")
        assert_refused(client, done, connection, "signing_key")
    assert forger.jwks_requests == 3  # once for each connection

    time.sleep(1.2)
    client = browser()
    _, done = forged_login(client, forger, forged, kid="nope")
    assert_refused(client, done, forged, "signing_key")
    assert forger.jwks_requests == 4


def test_a_rotated_key_signs_in_after_exactly_one_read_of_the_key_set(forger, forged):
    signs_in(forger, forged)
    assert forger.jwks_requests == 1

    forger.rotate()  # the IdP signs with a new key under a new key id, and publishes only it

    assert signs_in(forger, forged).email == "eve@acme.test"
    assert forger.jwks_requests == 2
    signs_in(forger, forged)  # the new key set is cached now
    assert forger.jwks_requests == 2


def test_a_key_id_unknown_on_the_first_read_is_not_read_again(forger, forged):
    # Nothing cached: the key set just fetched is as fresh as it gets.
    client = browser()
    _, done = forged_login(client, forger, forged, kid="nope")

    assert_refused(client, done, forged, "signing_key")
    assert forger.jwks_requests == 1


def test_a_rotation_at_the_real_provider_signs_in_after_one_read(web, oidc_idp, oidc):
    before = oidc_idp.jwks_requests()
    _, done = oidc_login(web, oidc_idp, oidc)
    assert done.status_code == 302, failed_checks(oidc)
    assert oidc_idp.jwks_requests() == before + 1
    # What Gatehouse holds after the IdP rotated: the key set as it was, without the key the
    # IdP signs with now.
    url = keys.discovery_document(oidc)["jwks_uri"]
    retired = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cache.set(keys.jwks_cache_key(url), {"keys": [_public_jwk(retired, "retired", "RS256")]})

    second = browser()
    _, done = oidc_login(second, oidc_idp, oidc)

    assert done.status_code == 302, failed_checks(oidc)
    assert session_user(second) == User.objects.get(email="ada@acme.test")
    assert oidc_idp.jwks_requests() == before + 2


@pytest.mark.django_db(transaction=True)
def test_the_idp_is_called_outside_any_transaction(forger, forged, monkeypatch):
    fetches: list[tuple[str, bool]] = []
    writes: list[bool] = []
    fetch, record_created = keys.fetch, logins.record_created

    def watched_fetch(url, **kwargs):
        fetches.append((url, transaction.get_connection().in_atomic_block))
        return fetch(url, **kwargs)

    def watched_record_created(*args, **kwargs):
        writes.append(transaction.get_connection().in_atomic_block)
        return record_created(*args, **kwargs)

    monkeypatch.setattr(keys, "fetch", watched_fetch)
    monkeypatch.setattr(logins, "record_created", watched_record_created)
    signs_in(forger, forged)  # the key set is read from cold
    forger.rotate()
    forger.claims = {"sub": "ada-sub", "email": "ada@acme.test"}

    assert signs_in(forger, forged).email == "ada@acme.test"  # ...and again for the new key

    jwks = [in_transaction for url, in_transaction in fetches if url.endswith("/jwks")]
    assert len(jwks) == 2
    assert not any(jwks)
    assert writes == [True, True]  # both accounts were made inside their login's transaction
