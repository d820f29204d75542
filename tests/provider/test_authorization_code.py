"""Authorization code with PKCE (OAuth 2.1 4.1) through Gatehouse's own sign-in: exact
redirects, S256 only, single-use codes whose replay revokes what they issued, consent for
third-party apps, iss on every redirect (RFC 9207)."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone
from jwcrypto import jwt

from provider import keys
from provider.models import Grant
from tests.provider.flows import (
    SPA_CALLBACK,
    Attempt,
    authorize,
    code_from,
    query_of,
    redeem,
)

ISSUER_SETTING = "GATEHOUSE_PUBLIC_URL"


@pytest.fixture
def spa_attempt(spa) -> Attempt:
    return Attempt(client_id=spa.client_id, redirect_uri=SPA_CALLBACK, scope="openid email")


def test_signed_out_person_is_sent_to_gatehouses_login_and_back(client, spa_attempt):
    response = authorize(client, spa_attempt, login_hint="ada@example.com")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/accounts/login/?")
    query = query_of(location)
    assert query["next"] == spa_attempt.url(login_hint="ada@example.com")
    assert query["login"] == "ada@example.com"


def test_first_party_app_gets_a_code_without_consent_and_the_code_gives_tokens(
    logged_in_client, user, spa, spa_attempt, settings
):
    response = authorize(logged_in_client, spa_attempt)
    code = code_from(response, spa_attempt)
    assert query_of(response["Location"])["iss"] == settings.GATEHOUSE_PUBLIC_URL
    grant = Grant.objects.get()
    assert grant.code != code  # only the hash is stored
    assert len(grant.code) == 64
    assert grant.sid
    assert grant.acr == "urn:gatehouse:pwd"
    assert grant.amr == ["pwd"]

    tokens = redeem(logged_in_client, spa_attempt, code)
    assert tokens.status_code == 200, tokens.content
    body = tokens.json()
    id_token = jwt.JWT(jwt=body["id_token"], key=keys.public_keyset(), algs=["RS256"])
    claims = json.loads(id_token.claims)
    assert claims["sub"] == str(user.public_id)
    assert claims["iss"] == settings.GATEHOUSE_PUBLIC_URL
    assert claims["aud"] == spa.client_id
    assert claims["nonce"] == spa_attempt.nonce
    assert claims["email"] == user.email
    assert claims["sid"] == grant.sid
    assert claims["amr"] == ["pwd"]
    assert claims["acr"] == "urn:gatehouse:pwd"
    assert abs(claims["auth_time"] - int(timezone.now().timestamp())) < 60
    assert id_token.token.jose_header["kid"] == keys.active_key("RS256").kid
