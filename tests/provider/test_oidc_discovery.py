"""The two discovery documents: OpenID Connect Discovery and RFC 8414, one issuer."""

from __future__ import annotations

import pytest

DOCUMENTS = ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]


@pytest.mark.parametrize("path", DOCUMENTS)
def test_discovery_names_the_public_url_as_issuer_and_every_endpoint(client, settings, path):
    settings.GATEHOUSE_PUBLIC_URL = "https://id.example.com"
    data = client.get(path).json()
    base = "https://id.example.com"
    assert data["issuer"] == base
    assert data["authorization_endpoint"] == base + "/o/authorize/"
    assert data["token_endpoint"] == base + "/o/token/"
    assert data["userinfo_endpoint"] == base + "/o/userinfo/"
    assert data["jwks_uri"] == base + "/o/.well-known/jwks.json"
    assert data["end_session_endpoint"] == base + "/o/logout/"
    assert data["introspection_endpoint"] == base + "/o/introspect/"
    assert data["revocation_endpoint"] == base + "/o/revoke_token/"
    assert data["authorization_response_iss_parameter_supported"] is True
    assert data["code_challenge_methods_supported"] == ["S256"]
    assert data["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]
    assert data["response_types_supported"] == ["code"]
    assert set(data["grant_types_supported"]) == {
        "authorization_code",
        "client_credentials",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:device_code",
    }
    assert {"openid", "profile", "email", "offline_access", "organization"} <= set(
        data["scopes_supported"]
    )
    assert data["device_authorization_endpoint"].endswith("/o/device-authorization/")
    assert data["client_id_metadata_document_supported"] is False  # the policy is off


def test_openid_discovery_lists_claims_and_prompts(client):
    data = client.get(DOCUMENTS[0]).json()
    assert {"sub", "email", "email_verified", "name", "auth_time", "amr", "acr", "sid"} <= set(
        data["claims_supported"]
    )
    assert data["subject_types_supported"] == ["public"]
    assert set(data["prompt_values_supported"]) == {"none", "login", "consent", "select_account"}
    assert data["acr_values_supported"] == ["urn:gatehouse:pwd", "urn:gatehouse:mfa"]


def test_the_jwks_lists_both_algorithms(client, signing_keys):
    keys = client.get("/o/.well-known/jwks.json").json()["keys"]
    assert {key["alg"] for key in keys} == {"RS256", "ES256"}
    assert all("d" not in key for key in keys)  # public halves only
