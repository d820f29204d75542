"""ID tokens, userinfo and refresh tokens issued through the authorization code: database
keys with kid (RS256 and ES256), claims by scope, rotation with family revocation on replay,
the absolute deadline, no widening of scopes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.utils import timezone
from jwcrypto import jwt

from provider import keys
from provider.models import AccessToken, RefreshToken
from tests.provider.flows import (
    SPA_CALLBACK,
    WEB_CALLBACK,
    Attempt,
    authorize,
    code_from,
    redeem,
    refresh,
)

USERINFO = "/o/userinfo/"


def signed_in_tokens(client, attempt: Attempt, auth: str | None = None, **changes) -> dict:
    response = authorize(client, attempt, **changes)
    if response.status_code == 200:  # consent
        response = client.post(attempt.url(**changes), {"decision": "allow"})
    body = redeem(client, attempt, code_from(response, attempt), auth=auth)
    assert body.status_code == 200, body.content
    return body.json()


@pytest.fixture
def web_attempt(webapp) -> Attempt:
    return Attempt(
        client_id=webapp.client_id,
        redirect_uri=WEB_CALLBACK,
        scope="openid profile email offline_access",
    )


@pytest.fixture
def spa_attempt(spa) -> Attempt:
    return Attempt(
        client_id=spa.client_id, redirect_uri=SPA_CALLBACK, scope="openid offline_access"
    )


def test_an_es256_app_gets_an_es256_id_token_with_the_es256_keys_kid(
    logged_in_client, user, webapp, web_attempt
):
    body = signed_in_tokens(logged_in_client, web_attempt, auth=webapp.basic())
    token = jwt.JWT(jwt=body["id_token"], key=keys.public_keyset(), algs=["ES256"])
    header = token.token.jose_header  # jwcrypto took only ES256 (algs)
    assert header["kid"] == keys.active_key("ES256").kid
    claims = json.loads(token.claims)
    assert claims["sub"] == str(user.public_id)
    assert claims["name"] == user.display_name
    assert (
        claims["email_verified"]
        is EmailAddress.objects.filter(user=user, email=user.email, verified=True).exists()
    )


# --- userinfo ---------------------------------------------------------------------------------


def test_userinfo_answers_the_claims_the_scopes_allow(logged_in_client, user, webapp, web_attempt):
    body = signed_in_tokens(logged_in_client, web_attempt, auth=webapp.basic())
    response = logged_in_client.get(USERINFO, HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert response.status_code == 200, response.content
    claims = response.json()
    assert claims["sub"] == str(user.public_id)
    assert claims["email"] == user.email
    assert "email_verified" in claims
    assert claims["name"] == user.display_name


def test_userinfo_leaves_out_claims_of_scopes_not_granted(logged_in_client, user, spa_attempt):
    body = signed_in_tokens(logged_in_client, spa_attempt)
    claims = logged_in_client.get(
        USERINFO, HTTP_AUTHORIZATION=f"Bearer {body['access_token']}"
    ).json()
    assert claims == {"sub": str(user.public_id)}


@pytest.mark.parametrize("header", ["", "Bearer ", "Bearer not-a-token", "Basic abc"])
def test_userinfo_without_a_live_token_is_401_with_a_challenge(client, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get(USERINFO, **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_userinfo_with_a_revoked_token_is_401(logged_in_client, spa_attempt):
    body = signed_in_tokens(logged_in_client, spa_attempt)
    AccessToken.objects.all().delete()
    response = logged_in_client.get(USERINFO, HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert response.status_code == 401


# --- refresh ----------------------------------------------------------------------------------


def test_refresh_rotates_and_keeps_the_sign_in_context(logged_in_client, spa, spa_attempt):
    first = signed_in_tokens(logged_in_client, spa_attempt)
    first_claims = json.loads(
        jwt.JWT(jwt=first["id_token"], key=keys.public_keyset(), algs=["RS256"]).claims
    )
    second = refresh(logged_in_client, spa.client_id, first["refresh_token"])
    assert second.status_code == 200, second.content
    body = second.json()
    assert body["refresh_token"] != first["refresh_token"]
    claims = json.loads(
        jwt.JWT(jwt=body["id_token"], key=keys.public_keyset(), algs=["RS256"]).claims
    )
    for name in ("sub", "sid", "auth_time", "acr", "amr"):
        assert claims[name] == first_claims[name], name
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 1


def test_a_replayed_refresh_token_revokes_the_whole_family(logged_in_client, spa, spa_attempt):
    first = signed_in_tokens(logged_in_client, spa_attempt)
    rotated = refresh(logged_in_client, spa.client_id, first["refresh_token"]).json()

    replay = refresh(logged_in_client, spa.client_id, first["refresh_token"])
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # The successor dies with it: whoever rotated first may have been the thief.
    successor = refresh(logged_in_client, spa.client_id, rotated["refresh_token"])
    assert successor.status_code == 400
    assert successor.json()["error"] == "invalid_grant"
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    stolen = logged_in_client.get(USERINFO, HTTP_AUTHORIZATION=f"Bearer {rotated['access_token']}")
    assert stolen.status_code == 401


def test_a_family_past_its_absolute_deadline_cannot_refresh(logged_in_client, spa, spa_attempt):
    first = signed_in_tokens(logged_in_client, spa_attempt)
    rotated = refresh(logged_in_client, spa.client_id, first["refresh_token"]).json()
    RefreshToken.objects.update(family_expires_at=timezone.now() - timedelta(seconds=1))
    response = refresh(logged_in_client, spa.client_id, rotated["refresh_token"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_the_absolute_deadline_is_copied_on_rotation(logged_in_client, spa, spa_attempt, settings):
    first = signed_in_tokens(logged_in_client, spa_attempt)
    deadline = RefreshToken.objects.get().family_expires_at
    assert deadline is not None
    expected = timezone.now() + timedelta(seconds=settings.GATEHOUSE_OAUTH_REFRESH_ABSOLUTE_SECONDS)
    assert abs((deadline - expected).total_seconds()) < 60
    refresh(logged_in_client, spa.client_id, first["refresh_token"])
    assert {token.family_expires_at for token in RefreshToken.objects.all()} == {deadline}


def test_refresh_cannot_widen_the_scopes(logged_in_client, spa, spa_attempt):
    first = signed_in_tokens(logged_in_client, spa_attempt)
    response = refresh(
        logged_in_client, spa.client_id, first["refresh_token"], scope="openid offline_access email"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert AccessToken.objects.count() == 1


def test_refresh_can_narrow_the_scopes(logged_in_client, spa, spa_attempt):
    first = signed_in_tokens(logged_in_client, spa_attempt)
    response = refresh(logged_in_client, spa.client_id, first["refresh_token"], scope="openid")
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "openid"


def test_a_refresh_token_of_one_client_is_refused_to_another(logged_in_client, spa_attempt, webapp):
    first = signed_in_tokens(logged_in_client, spa_attempt)
    response = refresh(
        logged_in_client, webapp.client_id, first["refresh_token"], auth=webapp.basic()
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_code_for_an_api_gives_a_jwt_for_that_api_only(
    logged_in_client, user, webapp, invoices_api
):
    attempt = Attempt(
        client_id=webapp.client_id,
        redirect_uri=WEB_CALLBACK,
        scope="openid invoices:read",
        extra={"resource": invoices_api.identifier},
    )
    body = signed_in_tokens(logged_in_client, attempt, auth=webapp.basic())
    assert body["scope"] == "openid invoices:read"
    access = jwt.JWT(jwt=body["access_token"], key=keys.public_keyset(), algs=["RS256"])
    assert access.token.jose_header["typ"] == "at+jwt"
    claims = json.loads(access.claims)
    assert claims["aud"] == invoices_api.identifier
    assert claims["sub"] == str(user.public_id)
    # A token for the invoices API is not a token for Gatehouse's userinfo.
    response = logged_in_client.get(USERINFO, HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert response.status_code == 401


def test_a_permission_the_app_was_not_given_is_invalid_scope_at_authorize(
    logged_in_client, webapp, invoices_api, settings
):
    attempt = Attempt(
        client_id=webapp.client_id,
        redirect_uri=WEB_CALLBACK,
        scope="openid invoices:write",
        extra={"resource": invoices_api.identifier},
    )
    response = authorize(logged_in_client, attempt)
    assert response.status_code == 302
    assert "error=invalid_scope" in response["Location"]
    assert "iss=" in response["Location"]
