"""Forged ID tokens, from an OpenID provider the test controls (tests/sso/forger.py). Each is
refused with its check named; none makes a session, a user or an identity."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount

from accounts.models import User
from tests.sso.conftest import (
    assert_refused,
    browser,
    failed_checks,
    forged_login,
    oidc_connection,
    session_user,
)


@pytest.fixture
def forged(acme_org, forger):
    return oidc_connection(acme_org, forger, name="Forged IdP")


def test_an_honest_token_from_the_forger_logs_in(web, forger, forged):
    _, done = forged_login(web, forger, forged)

    assert done.status_code == 302, done.content[:1000]
    assert session_user(web) == User.objects.get(email="eve@acme.test")
    assert forger.authorize_requests[-1]["code_challenge_method"] == "S256"
    assert forger.authorize_requests[-1]["nonce"]


# spoil -> the check Gatehouse names.
FORGED: dict[str, tuple[dict[str, Any], str]] = {
    "wrong_nonce": ({"claims": {"nonce": "not-the-one-we-sent"}}, "nonce"),
    "missing_nonce": ({"drop": ["nonce"]}, "claims"),
    "wrong_issuer": ({"claims": {"iss": "https://evil.test"}}, "issuer"),
    "wrong_audience": ({"claims": {"aud": "someone-else"}}, "audience"),
    "several_audiences_other_azp": (
        {"claims": {"aud": ["forger-client", "someone-else"], "azp": "someone-else"}},
        "audience",
    ),
    "expired": ({"claims": {"exp": 1_000_000_000, "iat": 999_999_000}}, "expired"),
    "issued_in_the_future": ({"claims": {"iat": 4_000_000_000}}, "not_yet_valid"),
    "discovery_names_another_issuer": (
        {"doc_issuer": "https://evil.test", "claims": {"iss": "https://evil.test"}},
        "issuer",
    ),
    "alg_none": ({"sign": "none"}, "algorithm"),
    "foreign_key": ({"sign": "foreign"}, "signature"),
    "unknown_kid": ({"kid": "nope"}, "signing_key"),
    "hs256_keyed_with_the_public_key": ({"sign": "hs256-public-pem"}, "algorithm"),
    "sub_missing": ({"drop": ["sub"]}, "claims"),
    "sub_empty": ({"claims": {"sub": ""}, "userinfo": {"sub": ""}}, "subject"),
    "sub_too_long": ({"claims": {"sub": "x" * 300}, "userinfo": {"sub": "x" * 300}}, "subject"),
    "sub_not_a_string": ({"claims": {"sub": 42}, "userinfo": {"sub": 42}}, "subject"),
    "userinfo_about_someone_else": ({"userinfo": {"sub": "someone-else"}}, "userinfo_subject"),
}


@pytest.mark.parametrize("case", list(FORGED))
def test_forged_id_token_is_refused(case, web, forger, forged):
    spoil, check = FORGED[case]

    _, done = forged_login(web, forger, forged, **spoil)

    assert_refused(web, done, forged, check)
    assert check.encode() in done.content
    assert not User.objects.filter(email="eve@acme.test").exists()
    assert not SocialAccount.objects.exists()


def test_a_new_signing_key_is_fetched_once_when_its_kid_is_unknown(web, forger, forged):
    assert forged_login(web, forger, forged)[1].status_code == 302  # the key set is cached now
    web.logout()
    forger.rotate()

    _, done = forged_login(web, forger, forged)

    assert done.status_code == 302, failed_checks(forged)
    assert session_user(web) is not None


def test_an_es256_connection_verifies_es256_and_refuses_rs256(web, forger, acme_org):
    forger.rotate(alg="ES256")
    connection = oidc_connection(acme_org, forger, id_token_algorithm="ES256")

    _, done = forged_login(web, forger, connection)
    assert done.status_code == 302, failed_checks(connection)
    assert session_user(web) is not None

    other = browser()
    forger.rotate(alg="RS256")  # the IdP now signs with an algorithm the connection does not name
    _, refused = forged_login(other, forger, connection)
    assert_refused(other, refused, connection, "algorithm")
