from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.test import Client

from accounts.models import User
from tests.sso.forger import Forger

CLIENT_ID = "forger-client"


@pytest.fixture(scope="module")
def forger():
    f = Forger(client_id=CLIENT_ID).start()
    yield f
    f.stop()


@pytest.fixture
def forged_connection(forger, settings):
    forger.spoil = {}
    settings.LAB_OIDC_CONNECTIONS = [{
        "provider_id": "forged", "name": "Forged", "client_id": CLIENT_ID,
        "secret": "forger-secret", "server_url": forger.issuer, "issuer": forger.issuer,
        "verified_domains": ["acme.test"],
    }]


def forged_login(forger, spoil: dict):
    forger.spoil = spoil
    client = Client(raise_request_exception=False)
    start = client.post("/accounts/oidc/forged/login/")
    if start.status_code != 302:
        return client, start
    back = requests.get(start["Location"], allow_redirects=False, timeout=5).headers["location"]
    parts = urlsplit(back)
    return client, client.get(f"{parts.path}?{parts.query}")


SCENARIOS = {
    "honest": {},
    "wrong_nonce": {"claims": {"nonce": "not-the-one-we-sent"}},
    "missing_nonce": {"drop": ["nonce"]},
    "wrong_issuer": {"claims": {"iss": "https://evil.example"}},
    "doc_issuer_differs_from_discovery_url": {"doc_issuer": "https://evil.example",
                                              "claims": {"iss": "https://evil.example"}},
    "wrong_audience": {"claims": {"aud": "someone-else"}},
    "expired": {"claims": {"exp": 1_000_000_000, "iat": 999_999_000}},
    "alg_none": {"sign": "none"},
    "wrong_key": {"sign": "other"},
    "unknown_kid": {"kid": "nope"},
    "hs256_with_public_key": {"sign": "hs256-public-pem"},
    "missing_sub": {"drop": ["sub"]},
    "empty_sub": {"claims": {"sub": ""}},
    "overlong_sub": {"claims": {"sub": "x" * 300}},
    "userinfo_sub_differs": {"userinfo": {"sub": "someone-else"}},
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_forged_id_token(name, forger, forged_connection):
    client, response = forged_login(forger, SCENARIOS[name])
    logged_in = "_auth_user_id" in client.session
    users = User.objects.count()
    accounts = list(SocialAccount.objects.values_list("uid", flat=True))
    print(f"\nRESULT {name}: status={response.status_code} session={logged_in} "
          f"users={users} socialaccounts={accounts}")
    if name == "honest":
        assert logged_in
        return
    assert response.status_code != 500
    assert not logged_in
    assert users == 0 and not accounts


def test_connection_test_shows_why_a_forged_token_failed(forger, forged_connection):
    forger.spoil = {"claims": {"nonce": "wrong"}}
    client = Client()
    start = client.get("/sso/lab-test/forged/")
    back = urlsplit(requests.get(start["Location"], allow_redirects=False, timeout=5)
                    .headers["location"])
    done = client.get(f"{back.path}?{back.query}")
    print("\nTEST-CONNECTION failure page:", done.status_code,
          done.content.decode().split("<h1>")[1][:120].replace("\n", " "))
    assert b"Connection failed" in done.content and b"nonce" in done.content
    assert "_auth_user_id" not in client.session and not User.objects.exists()
