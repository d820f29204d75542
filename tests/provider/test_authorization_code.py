"""Authorization code with PKCE (OAuth 2.1 4.1) through Gatehouse's own sign-in: exact
redirects, S256 only, single-use codes whose replay revokes what they issued, consent for
third-party apps, organizations, iss on every redirect (RFC 9207)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from jwcrypto import jwt

from audit.models import AuditEvent
from organizations.models import Membership, Organization
from provider import keys
from provider.models import AccessToken, Authorization, Grant, RefreshToken
from tests.provider.flows import (
    SPA_CALLBACK,
    TOKEN,
    WEB_CALLBACK,
    Attempt,
    authorize,
    code_from,
    query_of,
    redeem,
    refresh,
)


@pytest.fixture
def spa_attempt(spa) -> Attempt:
    return Attempt(client_id=spa.client_id, redirect_uri=SPA_CALLBACK, scope="openid email")


@pytest.fixture
def web_attempt(webapp) -> Attempt:
    return Attempt(
        client_id=webapp.client_id,
        redirect_uri=WEB_CALLBACK,
        scope="openid profile email offline_access",
    )


def error_redirect(response, attempt: Attempt, settings) -> dict[str, str]:
    """The error an authorization redirect carries, after checking state and iss."""
    assert response.status_code == 302, response.content[:500]
    assert response["Location"].startswith(attempt.redirect_uri + "?")
    query = query_of(response["Location"])
    assert query["state"] == attempt.state
    assert query["iss"] == settings.GATEHOUSE_PUBLIC_URL
    return query


def consent(client, attempt: Attempt, decision: str = "allow", **changes):
    return client.post(attempt.url(**changes), {"decision": decision})


# --- Sign-in and issuance ---------------------------------------------------------------------


def test_signed_out_person_is_sent_to_gatehouses_login_and_back(client, spa_attempt):
    response = authorize(client, spa_attempt, login_hint="ada@example.com")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/accounts/login/?")
    query = query_of(location)
    assert query["next"] == spa_attempt.url(login_hint="ada@example.com")
    assert query["login"] == "ada@example.com"


def test_login_hint_prefills_the_login_form(client):
    page = client.get("/accounts/login/?login=ada%40example.com")
    assert b'value="ada@example.com"' in page.content


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
    assert "name" not in claims  # no profile scope
    assert id_token.token.jose_header["kid"] == keys.active_key("RS256").kid
    assert not Authorization.objects.exists()  # first-party: nothing was asked


def test_the_same_browser_session_keeps_one_sid(logged_in_client, spa_attempt):
    code_from(authorize(logged_in_client, spa_attempt), spa_attempt)
    code_from(authorize(logged_in_client, spa_attempt), spa_attempt)
    assert len({grant.sid for grant in Grant.objects.all()}) == 1


# --- Redirect URIs and clients ----------------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://spa.example.com/cb?x=1",
        "https://spa.example.com/cb/",
        "https://spa.example.com/CB",
        "http://spa.example.com/cb",
        "https://spa.example.com:8443/cb",
        "https://evil.example.com/cb",
        "https://spa.example.com.evil.com/cb",
        "https://user@spa.example.com/cb",
        "https://spa.example.com/cb#frag",
    ],
)
def test_a_redirect_uri_not_registered_exactly_is_an_error_page_never_a_redirect(
    logged_in_client, spa_attempt, redirect_uri
):
    response = authorize(logged_in_client, spa_attempt, redirect_uri=redirect_uri)
    assert response.status_code == 400
    assert b"This sign-in link does not work" in response.content
    assert not Grant.objects.exists()


def test_an_unknown_client_is_an_error_page(logged_in_client, spa_attempt):
    response = authorize(logged_in_client, spa_attempt, client_id="nobody")
    assert response.status_code in (400, 401)
    assert not Grant.objects.exists()


def test_an_m2m_client_cannot_use_the_authorization_code(logged_in_client, backend, settings):
    attempt = Attempt(client_id=backend.client_id, redirect_uri=SPA_CALLBACK)
    response = authorize(logged_in_client, attempt)
    assert response.status_code == 400  # it has no redirect URI at all
    assert not Grant.objects.exists()


# --- PKCE -------------------------------------------------------------------------------------


def test_missing_pkce_is_invalid_request(logged_in_client, spa_attempt, settings):
    response = authorize(
        logged_in_client, spa_attempt, code_challenge=None, code_challenge_method=None
    )
    assert error_redirect(response, spa_attempt, settings)["error"] == "invalid_request"
    assert not Grant.objects.exists()


@pytest.mark.parametrize("method", [None, "plain", "S512"])
def test_pkce_other_than_s256_is_invalid_request(logged_in_client, spa_attempt, settings, method):
    response = authorize(logged_in_client, spa_attempt, code_challenge_method=method)
    assert error_redirect(response, spa_attempt, settings)["error"] == "invalid_request"
    assert not Grant.objects.exists()


def test_a_wrong_verifier_gets_invalid_grant_and_no_token(logged_in_client, spa_attempt):
    code = code_from(authorize(logged_in_client, spa_attempt), spa_attempt)
    response = redeem(logged_in_client, spa_attempt, code, code_verifier="x" * 50)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.exists()


def test_a_missing_verifier_gets_no_token(logged_in_client, spa_attempt):
    code = code_from(authorize(logged_in_client, spa_attempt), spa_attempt)
    response = redeem(logged_in_client, spa_attempt, code, code_verifier=None)
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_request", "invalid_grant")
    assert not AccessToken.objects.exists()


# --- Codes: single use, short-lived, bound to the client and redirect -------------------------


def test_a_reused_code_is_refused_and_revokes_the_tokens_of_the_first_exchange(
    logged_in_client, web_attempt, webapp
):
    code = code_from(consent(logged_in_client, web_attempt), web_attempt)
    first = redeem(logged_in_client, web_attempt, code, auth=webapp.basic())
    assert first.status_code == 200, first.content
    assert "refresh_token" in first.json()
    assert AccessToken.objects.count() == 1

    again = redeem(logged_in_client, web_attempt, code, auth=webapp.basic())
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.exists()
    revoked = [token.revoked for token in RefreshToken.objects.all()]
    assert revoked  # kept, so that a replay of it is recognised ...
    assert all(revoked)  # ... and revoked
    dead = refresh(
        logged_in_client, webapp.client_id, first.json()["refresh_token"], auth=webapp.basic()
    )
    assert dead.status_code == 400
    assert dead.json()["error"] == "invalid_grant"
    assert AuditEvent.objects.filter(action="oauth.code_replayed").exists()


def test_an_expired_code_gets_invalid_grant(logged_in_client, spa_attempt):
    code = code_from(authorize(logged_in_client, spa_attempt), spa_attempt)
    Grant.objects.update(expires=timezone.now() - timedelta(seconds=1))
    response = redeem(logged_in_client, spa_attempt, code)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.exists()


def test_a_code_presented_with_another_redirect_uri_gets_invalid_grant(
    logged_in_client, spa_attempt
):
    code = code_from(authorize(logged_in_client, spa_attempt), spa_attempt)
    response = redeem(logged_in_client, spa_attempt, code, redirect_uri=SPA_CALLBACK + "x")
    assert response.status_code == 400
    assert not AccessToken.objects.exists()


def test_a_code_of_one_client_is_refused_to_another(logged_in_client, spa_attempt, webapp):
    code = code_from(authorize(logged_in_client, spa_attempt), spa_attempt)
    response = logged_in_client.post(
        TOKEN,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": SPA_CALLBACK,
            "code_verifier": spa_attempt.verifier,
        },
        HTTP_AUTHORIZATION=webapp.basic(),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.exists()


def test_a_confidential_client_must_authenticate_to_redeem(logged_in_client, web_attempt):
    code = code_from(consent(logged_in_client, web_attempt), web_attempt)
    response = redeem(logged_in_client, web_attempt, code)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert not AccessToken.objects.exists()


# --- Consent ----------------------------------------------------------------------------------


def test_a_third_party_app_asks_for_consent_in_plain_words(logged_in_client, web_attempt):
    page = authorize(logged_in_client, web_attempt)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Partner Portal" in text
    assert "See your email address" in text
    assert "See your name" in text
    assert "Stay signed in when you are away" in text
    assert not Grant.objects.exists()


def test_allowing_records_the_authorization_and_issues_a_code(logged_in_client, user, web_attempt):
    code_from(consent(logged_in_client, web_attempt), web_attempt)
    authorization = Authorization.objects.get(user=user)
    assert set(authorization.scopes) == {"openid", "profile", "email", "offline_access"}
    assert AuditEvent.objects.filter(action="oauth.authorized", actor=user).exists()
    # Next time the same request needs no consent (and records nothing new)...
    assert authorize(logged_in_client, web_attempt).status_code == 302
    assert AuditEvent.objects.filter(action="oauth.authorized").count() == 1
    # ...unless the app asks for it, or for more.
    assert authorize(logged_in_client, web_attempt, prompt="consent").status_code == 200


def test_api_permissions_are_named_on_the_consent_screen(logged_in_client, webapp, invoices_api):
    attempt = Attempt(
        client_id=webapp.client_id,
        redirect_uri=WEB_CALLBACK,
        scope="openid invoices:read",
        extra={"resource": invoices_api.identifier},
    )
    page = authorize(logged_in_client, attempt)
    assert page.status_code == 200
    assert "Read your invoices" in page.content.decode()


def test_denying_sends_access_denied_with_iss(logged_in_client, web_attempt, settings):
    response = consent(logged_in_client, web_attempt, decision="deny")
    assert error_redirect(response, web_attempt, settings)["error"] == "access_denied"
    assert not Grant.objects.exists()
    assert not Authorization.objects.exists()


def test_approval_prompt_auto_does_not_skip_consent(logged_in_client, web_attempt):
    page = authorize(logged_in_client, web_attempt, approval_prompt="auto")
    assert page.status_code == 200
    assert not Grant.objects.exists()


def test_consent_needs_the_csrf_token(user, password, web_attempt):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    assert browser.post(
        "/accounts/login/", {"login": user.email, "password": password}
    ).status_code in (302, 403)
    browser.force_login(user)
    response = browser.post(web_attempt.url(), {"decision": "allow"})
    assert response.status_code == 403
    assert not Grant.objects.exists()


# --- Resources (RFC 8707) and organizations ---------------------------------------------------


def test_two_resources_at_authorize_are_invalid_target(
    logged_in_client, webapp, invoices_api, reports_api, settings
):
    attempt = Attempt(
        client_id=webapp.client_id,
        redirect_uri=WEB_CALLBACK,
        extra={"resource": [invoices_api.identifier, reports_api.identifier]},
    )
    response = authorize(logged_in_client, attempt)
    assert error_redirect(response, attempt, settings)["error"] == "invalid_target"


def test_a_resource_the_app_has_no_access_to_is_invalid_target(logged_in_client, webapp, settings):
    attempt = Attempt(
        client_id=webapp.client_id,
        redirect_uri=WEB_CALLBACK,
        extra={"resource": "https://elsewhere.example.com/"},
    )
    response = authorize(logged_in_client, attempt)
    assert error_redirect(response, attempt, settings)["error"] == "invalid_target"


@pytest.fixture
def acme(user) -> Organization:
    org = Organization.objects.create(name="Acme", slug="acme")
    Membership.objects.create(organization=org, user=user, role="admin")
    return org


def test_an_organization_sign_in_puts_the_org_in_the_tokens(logged_in_client, spa, acme, settings):
    attempt = Attempt(
        client_id=spa.client_id,
        redirect_uri=SPA_CALLBACK,
        scope="openid organization",
        extra={"organization": "acme"},
    )
    code = code_from(authorize(logged_in_client, attempt), attempt)
    assert Grant.objects.get().organization == acme
    body = redeem(logged_in_client, attempt, code).json()
    claims = json.loads(
        jwt.JWT(jwt=body["id_token"], key=keys.public_keyset(), algs=["RS256"]).claims
    )
    assert claims["org_id"] == str(acme.public_id)
    assert claims["org_slug"] == "acme"
    assert claims["org_roles"] == ["admin"]
    assert AccessToken.objects.get().organization == acme


def test_an_organization_named_by_its_public_id_works_too(logged_in_client, spa, acme):
    attempt = Attempt(
        client_id=spa.client_id,
        redirect_uri=SPA_CALLBACK,
        extra={"organization": str(acme.public_id)},
    )
    code_from(authorize(logged_in_client, attempt), attempt)
    assert Grant.objects.get().organization == acme


@pytest.mark.parametrize("membership", ["none", "removed"])
def test_an_organization_the_person_is_not_an_active_member_of_is_access_denied(
    logged_in_client, user, spa, settings, membership
):
    org = Organization.objects.create(name="Other", slug="other")
    if membership == "removed":
        Membership.objects.create(organization=org, user=user, status="removed")
    attempt = Attempt(
        client_id=spa.client_id, redirect_uri=SPA_CALLBACK, extra={"organization": "other"}
    )
    response = authorize(logged_in_client, attempt)
    assert error_redirect(response, attempt, settings)["error"] == "access_denied"
    assert not Grant.objects.exists()
