"""prompt, max_age, acr_values and id_token_hint (OpenID Connect Core 3.1.2.1): silent
sign-in never fails with a 500, and a fresh or stronger authentication is asked for through
Gatehouse's step-up page when the relying party wants one."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from jwcrypto import jwt

from provider import keys
from provider.models import Grant
from provider.services.authorizations import grant_authorization
from tests.accounts.mfa_helpers import totp_now
from tests.factories import UserFactory
from tests.provider.flows import (
    SPA_CALLBACK,
    WEB_CALLBACK,
    Attempt,
    add_record,
    age_records,
    authorize,
    code_from,
    query_of,
    redeem,
)

STEPUP = "/account/security/verify/"


@pytest.fixture
def spa_attempt(spa) -> Attempt:
    return Attempt(client_id=spa.client_id, redirect_uri=SPA_CALLBACK)


@pytest.fixture
def web_attempt(webapp) -> Attempt:
    return Attempt(client_id=webapp.client_id, redirect_uri=WEB_CALLBACK, scope="openid email")


def oauth_error(response, attempt: Attempt, settings) -> str:
    assert response.status_code == 302, response.content[:300]
    assert response["Location"].startswith(attempt.redirect_uri + "?")
    query = query_of(response["Location"])
    assert query["state"] == attempt.state
    assert query["iss"] == settings.GATEHOUSE_PUBLIC_URL
    assert "code" not in query
    return query["error"]


def id_token_claims(client, attempt: Attempt, response) -> dict:
    body = redeem(client, attempt, code_from(response, attempt)).json()
    return json.loads(
        jwt.JWT(jwt=body["id_token"], key=keys.public_keyset(), algs=["RS256", "ES256"]).claims
    )


# --- prompt=none ------------------------------------------------------------------------------


def test_prompt_none_signed_out_is_login_required(client, spa_attempt, settings):
    response = authorize(client, spa_attempt, prompt="none")
    assert oauth_error(response, spa_attempt, settings) == "login_required"
    assert not Grant.objects.exists()


def test_prompt_none_signed_in_without_consent_is_consent_required(
    logged_in_client, web_attempt, settings
):
    response = authorize(logged_in_client, web_attempt, prompt="none")
    assert oauth_error(response, web_attempt, settings) == "consent_required"
    assert not Grant.objects.exists()


def test_prompt_none_signed_in_to_a_first_party_app_gets_a_code(logged_in_client, spa_attempt):
    code_from(authorize(logged_in_client, spa_attempt, prompt="none"), spa_attempt)
    assert Grant.objects.count() == 1


def test_prompt_none_for_an_app_already_allowed_gets_a_code(
    logged_in_client, user, webapp, web_attempt
):
    grant_authorization(user=user, application=webapp.application, scopes=["openid", "email"])
    code_from(authorize(logged_in_client, web_attempt, prompt="none"), web_attempt)


def test_prompt_none_but_more_scopes_than_allowed_is_consent_required(
    logged_in_client, user, webapp, web_attempt, settings
):
    grant_authorization(user=user, application=webapp.application, scopes=["openid"])
    response = authorize(logged_in_client, web_attempt, prompt="none")
    assert oauth_error(response, web_attempt, settings) == "consent_required"


def test_prompt_none_with_an_old_sign_in_and_max_age_is_login_required(
    logged_in_client, spa_attempt, settings
):
    age_records(logged_in_client, 3600)
    response = authorize(logged_in_client, spa_attempt, prompt="none", max_age="60")
    assert oauth_error(response, spa_attempt, settings) == "login_required"


def test_prompt_none_with_other_values_is_invalid_request(logged_in_client, spa_attempt, settings):
    response = authorize(logged_in_client, spa_attempt, prompt="none login")
    assert oauth_error(response, spa_attempt, settings) == "invalid_request"


def test_prompt_none_asking_for_mfa_without_it_is_interaction_required(
    logged_in_client, user, spa_attempt, settings
):
    TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    response = authorize(
        logged_in_client, spa_attempt, prompt="none", acr_values="urn:gatehouse:mfa"
    )
    assert oauth_error(response, spa_attempt, settings) == "interaction_required"
    assert not Grant.objects.exists()


def test_prompt_none_with_another_persons_id_token_hint_is_login_required(
    logged_in_client, spa, spa_attempt, settings, password
):
    from django.test import Client

    other = UserFactory()
    other_browser = Client()
    other_browser.post("/accounts/login/", {"login": other.email, "password": password})
    other_attempt = Attempt(client_id=spa.client_id, redirect_uri=SPA_CALLBACK)
    body = redeem(
        other_browser,
        other_attempt,
        code_from(authorize(other_browser, other_attempt), other_attempt),
    ).json()
    response = authorize(
        logged_in_client, spa_attempt, prompt="none", id_token_hint=body["id_token"]
    )
    assert oauth_error(response, spa_attempt, settings) == "login_required"


def test_an_id_token_hint_of_the_person_signed_in_is_accepted(logged_in_client, spa_attempt):
    first = redeem(
        logged_in_client,
        spa_attempt,
        code_from(authorize(logged_in_client, spa_attempt), spa_attempt),
    ).json()
    again = Attempt(client_id=spa_attempt.client_id, redirect_uri=SPA_CALLBACK)
    code_from(
        authorize(logged_in_client, again, prompt="none", id_token_hint=first["id_token"]), again
    )


def test_a_forged_id_token_hint_is_login_required(
    logged_in_client, user, spa, spa_attempt, settings
):
    from jwcrypto import jwk

    forged_key = jwk.JWK.generate(kty="RSA", size=2048)
    token = jwt.JWT(
        header={"alg": "RS256", "kid": keys.active_key("RS256").kid},
        claims={
            "iss": settings.GATEHOUSE_PUBLIC_URL,
            "aud": spa.client_id,
            "sub": str(user.public_id),
        },
    )
    token.make_signed_token(forged_key)
    response = authorize(logged_in_client, spa_attempt, id_token_hint=token.serialize())
    assert oauth_error(response, spa_attempt, settings) == "login_required"
    assert not Grant.objects.exists()


# --- prompt=login and max_age: a fresh authentication -----------------------------------------


def test_prompt_login_sends_a_signed_in_person_through_step_up_first(
    logged_in_client, user, password, spa_attempt
):
    url = spa_attempt.url(prompt="login")
    response = logged_in_client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(STEPUP + "?")
    assert query_of(response["Location"])["next"] == url
    assert not Grant.objects.exists()
    # Coming back without re-authenticating changes nothing.
    assert logged_in_client.get(url)["Location"].startswith(STEPUP)

    done = logged_in_client.post(
        f"{STEPUP}?{urlencode({'next': url})}", {"kind": "password", "password": password}
    )
    assert done.status_code == 302
    assert done["Location"] == url
    claims = id_token_claims(logged_in_client, spa_attempt, logged_in_client.get(done["Location"]))
    assert claims["sub"] == str(user.public_id)


def test_prompt_login_when_signed_out_asks_for_the_login_only_once(
    client, user, password, spa_attempt
):
    url = spa_attempt.url(prompt="login")
    to_login = client.get(url)
    assert to_login["Location"].startswith("/accounts/login/")
    client.post("/accounts/login/", {"login": user.email, "password": password})
    code_from(client.get(url), spa_attempt)


def test_an_old_sign_in_beyond_max_age_steps_up_and_a_recent_one_does_not(
    logged_in_client, spa_attempt
):
    age_records(logged_in_client, 600)
    response = authorize(logged_in_client, spa_attempt, max_age="300")
    assert response["Location"].startswith(STEPUP)
    code_from(authorize(logged_in_client, spa_attempt, max_age="3600"), spa_attempt)


def test_auth_time_is_the_sign_in_not_the_token_request(logged_in_client, spa_attempt):
    age_records(logged_in_client, 120)
    claims = id_token_claims(
        logged_in_client, spa_attempt, authorize(logged_in_client, spa_attempt)
    )
    import time

    assert 100 < time.time() - claims["auth_time"] < 200


# --- acr_values: a second factor --------------------------------------------------------------


def test_asking_for_mfa_steps_up_a_person_who_has_a_second_factor(
    logged_in_client, user, spa_attempt
):
    TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    response = authorize(logged_in_client, spa_attempt, acr_values="urn:gatehouse:mfa")
    assert response["Location"].startswith(STEPUP)
    assert not Grant.objects.exists()

    add_record(logged_in_client, method="mfa", type="totp", reauthenticated=True)
    claims = id_token_claims(
        logged_in_client,
        spa_attempt,
        authorize(logged_in_client, spa_attempt, acr_values="urn:gatehouse:mfa"),
    )
    assert claims["acr"] == "urn:gatehouse:mfa"
    assert "mfa" in claims["amr"]
    assert "otp" in claims["amr"]


def test_asking_for_mfa_of_a_person_without_one_has_them_set_one_up_first(
    logged_in_client, user, spa_attempt
):
    asked = authorize(logged_in_client, spa_attempt, acr_values="urn:gatehouse:mfa")
    assert asked["Location"].startswith("/account/security/?next=")
    assert not Grant.objects.exists()

    # The security page offers an authenticator app and keeps the way back.
    page = logged_in_client.get(asked["Location"]).content.decode()
    add_link = re.search(r'href="(/account/security/totp/\?next=[^"]+)"', page)
    assert add_link is not None
    add_url = html.unescape(add_link.group(1))
    logged_in_client.get(add_url)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    back = parse_qs(urlsplit(add_url).query)["next"][0]
    done = logged_in_client.post(
        add_url, {"device": device.pk, "code": totp_now(device), "name": "", "next": back}
    )
    assert html.escape(back) in done.content.decode()  # "Done" leads back to the app's request

    claims = id_token_claims(logged_in_client, spa_attempt, logged_in_client.get(back))
    assert claims["acr"] == "urn:gatehouse:mfa"
    assert "otp" in claims["amr"]


def test_silent_sign_in_asking_for_mfa_without_one_is_interaction_required(
    logged_in_client, spa_attempt, settings
):
    response = authorize(
        logged_in_client, spa_attempt, prompt="none", acr_values="urn:gatehouse:mfa"
    )
    assert oauth_error(response, spa_attempt, settings) == "interaction_required"


# (parameters changed, whether a signed-in person may still get a code: an unusable max_age
# or acr_values is ignored, create is a no-op for someone signed in, select_account shows
# the chooser).
ODD_REQUESTS = [
    ({"prompt": "none", "redirect_uri": "https://evil.example.com/cb"}, False),
    ({"prompt": "none", "client_id": "nobody"}, False),
    ({"prompt": "none", "id_token_hint": "not.a.jwt"}, False),
    ({"prompt": "none", "id_token_hint": "x" * 20000}, False),
    ({"max_age": "soon"}, True),
    ({"max_age": "-5"}, True),
    ({"acr_values": "urn:gatehouse:mfa " * 50}, True),
    ({"organization": "../../etc"}, False),
    ({"organization": "x" * 500}, False),
    ({"prompt": "select_account"}, False),
    ({"prompt": "create"}, True),
    ({"claims": "{not json"}, False),
    ({"response_type": "token"}, False),
    ({"response_type": "code id_token"}, False),
    ({"scope": "openid unknown:scope"}, False),
]


@pytest.mark.parametrize(("changes", "may_issue"), ODD_REQUESTS)
@pytest.mark.parametrize("signed_in", [False, True])
def test_odd_authorization_requests_never_fail_with_a_500(
    client, logged_in_client, spa_attempt, changes, may_issue, signed_in
):
    browser = logged_in_client if signed_in else client
    response = authorize(browser, spa_attempt, **changes)
    assert response.status_code < 500
    if response.status_code == 302 and response["Location"].startswith(SPA_CALLBACK):
        query = query_of(response["Location"])
        assert query["iss"]
        assert "code" not in query or (may_issue and signed_in)
