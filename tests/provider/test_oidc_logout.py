"""RP-initiated logout (OpenID RP-Initiated Logout 1.0) at /o/logout/: a hint Gatehouse
signed, a registered post-logout address, Gatehouse's own sign-out, the OIDC session ended."""

from __future__ import annotations

import json

import pytest
from jwcrypto import jwk, jwt
from jwcrypto.common import base64url_decode, base64url_encode

from audit.models import AuditEvent
from provider import keys
from provider.models import ProviderSession
from tests.provider.flows import SPA_CALLBACK, Attempt, authorize, code_from, query_of, redeem

LOGOUT = "/o/logout/"
BYE = "https://spa.example.com/bye"


@pytest.fixture
def id_token(logged_in_client, spa) -> str:
    attempt = Attempt(client_id=spa.client_id, redirect_uri=SPA_CALLBACK)
    body = redeem(
        logged_in_client, attempt, code_from(authorize(logged_in_client, attempt), attempt)
    )
    return str(body.json()["id_token"])


def signed_in(client) -> bool:
    return client.get("/account/").status_code == 200


def test_logout_with_a_valid_hint_signs_out_and_redirects_to_the_registered_address(
    logged_in_client, user, id_token
):
    assert signed_in(logged_in_client)
    response = logged_in_client.get(
        LOGOUT, {"id_token_hint": id_token, "post_logout_redirect_uri": BYE, "state": "s1"}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(BYE + "?")
    assert query_of(response["Location"])["state"] == "s1"
    assert not signed_in(logged_in_client)
    session = ProviderSession.objects.get()
    assert session.ended_at is not None
    assert AuditEvent.objects.filter(action="oauth.logout", actor=user).exists()


def test_logging_out_through_the_app_ends_the_tokens_of_that_sign_in(logged_in_client, user, spa):
    attempt = Attempt(client_id=spa.client_id, redirect_uri=SPA_CALLBACK)
    tokens = redeem(
        logged_in_client, attempt, code_from(authorize(logged_in_client, attempt), attempt)
    ).json()

    logged_in_client.get(
        LOGOUT, {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": BYE}
    )

    refreshed = logged_in_client.post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": spa.client_id,
        },
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
    [logout] = AuditEvent.objects.filter(action="oauth.logout")
    assert logout.data == {"client_id": spa.client_id, "sessions_ended": 1}
    revoked = AuditEvent.objects.get(action="oauth.tokens_revoked")
    assert revoked.data["reason"] == "signed_out"


def test_a_code_issued_before_signing_out_is_refused_after(logged_in_client, spa):
    attempt = Attempt(client_id=spa.client_id, redirect_uri=SPA_CALLBACK)
    code = code_from(authorize(logged_in_client, attempt), attempt)

    logged_in_client.post("/accounts/logout/")

    response = redeem(logged_in_client, attempt, code)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_an_unsigned_hint_is_refused_and_nobody_is_signed_out(logged_in_client, id_token):
    _header, payload, _signature = id_token.split(".")
    unsigned_header = base64url_encode(json.dumps({"alg": "none", "typ": "JWT"}))
    response = logged_in_client.get(
        LOGOUT,
        {"id_token_hint": f"{unsigned_header}.{payload}.", "post_logout_redirect_uri": BYE},
    )
    assert response.status_code == 400
    assert signed_in(logged_in_client)
    assert ProviderSession.objects.get().ended_at is None


def test_a_hint_signed_by_a_foreign_key_is_refused(logged_in_client, id_token):
    claims = json.loads(jwt.JWT(jwt=id_token, key=keys.public_keyset(), algs=["RS256"]).claims)
    foreign = jwk.JWK.generate(kty="RSA", size=2048)
    forged = jwt.JWT(header={"alg": "RS256", "kid": keys.active_key("RS256").kid}, claims=claims)
    forged.make_signed_token(foreign)
    response = logged_in_client.get(
        LOGOUT, {"id_token_hint": forged.serialize(), "post_logout_redirect_uri": BYE}
    )
    assert response.status_code == 400
    assert signed_in(logged_in_client)


def test_a_tampered_hint_is_refused(logged_in_client, id_token):
    header, payload, signature = id_token.split(".")
    claims = json.loads(base64url_decode(payload))
    claims["sub"] = "someone-else"
    tampered = f"{header}.{base64url_encode(json.dumps(claims))}.{signature}"
    response = logged_in_client.get(LOGOUT, {"id_token_hint": tampered})
    assert response.status_code == 400
    assert signed_in(logged_in_client)


@pytest.mark.parametrize(
    "address",
    [
        "https://evil.example.com/bye",
        "https://spa.example.com/bye?next=x",
        "https://spa.example.com/cb",
    ],
)
def test_a_post_logout_address_not_registered_is_refused(logged_in_client, id_token, address):
    response = logged_in_client.get(
        LOGOUT, {"id_token_hint": id_token, "post_logout_redirect_uri": address}
    )
    assert response.status_code == 400
    assert "Location" not in response
    assert signed_in(logged_in_client)


def test_a_hint_for_another_client_id_is_refused(logged_in_client, id_token, webapp):
    response = logged_in_client.get(
        LOGOUT, {"id_token_hint": id_token, "client_id": webapp.client_id}
    )
    assert response.status_code == 400
    assert signed_in(logged_in_client)


def test_without_a_hint_the_person_is_asked_first(logged_in_client, spa):
    page = logged_in_client.get(
        LOGOUT, {"client_id": spa.client_id, "post_logout_redirect_uri": BYE}
    )
    assert page.status_code == 200
    assert b"logout-confirm" in page.content
    assert signed_in(logged_in_client)
    done = logged_in_client.post(
        LOGOUT, {"client_id": spa.client_id, "post_logout_redirect_uri": BYE, "allow": "on"}
    )
    assert done.status_code == 302
    assert done["Location"] == BYE
    assert not signed_in(logged_in_client)


def _resigned(id_token: str, **changes) -> str:
    """The same ID token's claims with ``changes``, signed by Gatehouse's real key."""
    claims = json.loads(jwt.JWT(jwt=id_token, key=keys.public_keyset(), algs=["RS256"]).claims)
    key = keys.active_key("RS256")
    token = jwt.JWT(
        header={"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims={**claims, **changes}
    )
    token.make_signed_token(key.private)
    return str(token.serialize())


def test_an_expired_hint_still_signs_out(logged_in_client, id_token):
    expired = _resigned(id_token, exp=1_000_000_000)
    response = logged_in_client.get(
        LOGOUT, {"id_token_hint": expired, "post_logout_redirect_uri": BYE}
    )
    assert response.status_code == 302
    assert response["Location"] == BYE
    assert not signed_in(logged_in_client)


def test_a_hint_from_another_issuer_is_refused(logged_in_client, id_token):
    response = logged_in_client.get(
        LOGOUT,
        {
            "id_token_hint": _resigned(id_token, iss="https://other.example.com"),
            "post_logout_redirect_uri": BYE,
        },
    )
    assert response.status_code == 400
    assert signed_in(logged_in_client)


def test_a_hint_whose_token_gatehouse_no_longer_knows_is_refused(logged_in_client, id_token):
    from provider.models import IDToken

    IDToken.objects.all().delete()
    response = logged_in_client.get(
        LOGOUT, {"id_token_hint": id_token, "post_logout_redirect_uri": BYE}
    )
    assert response.status_code == 400
    assert signed_in(logged_in_client)
