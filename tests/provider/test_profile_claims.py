"""Progressive profiling at the OpenID provider: an app asking for a field's scope gets the
person asked first (before consent), and the answers reach it as claims of that scope only, in
the ID token and at userinfo."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from django.test import Client
from jwcrypto import jwt

from accounts.models import ProfileAnswer
from accounts.profiling.models import ProfileField
from accounts.profiling.services import save_answers
from provider import keys
from provider.services.applications import create_application
from tests.accounts.profiling_helpers import field
from tests.provider.conftest import as_client
from tests.provider.flows import (
    SPA_CALLBACK,
    WEB_CALLBACK,
    Attempt,
    authorize,
    code_from,
    query_of,
    redeem,
)

QUESTIONS = "/account/profile/questions/"
SCOPES = ["openid", "profile", "email", "phone", "profile_fields"]


@pytest.fixture
def storefront(signing_keys):
    """A first-party SPA that may ask for the phone and the operator's profile fields."""
    return as_client(
        create_application(
            actor=None,
            name="Storefront",
            kind="spa",
            redirect_uris=[SPA_CALLBACK],
            allowed_scopes=SCOPES,
            first_party=True,
        )
    )


@pytest.fixture
def partner(signing_keys):
    """A third-party web app: people are asked to consent."""
    return as_client(
        create_application(
            actor=None,
            name="Partner Portal",
            kind="web",
            redirect_uris=[WEB_CALLBACK],
            allowed_scopes=SCOPES,
        )
    )


@pytest.fixture
def phone():
    return field("mobile", "phone", required=True, ask_when=ProfileField.When.SCOPE)


@pytest.fixture
def shirt():
    return field(
        "shirt_size",
        "choice",
        options="S\nM\nL",
        ask_when=ProfileField.When.SCOPE,
        scope="profile_fields",
        label="T-shirt size",
    )


def claims_of(client, attempt: Attempt, response) -> tuple[dict, dict]:
    """Redeem the code; the ID token's claims and userinfo's."""
    tokens = redeem(client, attempt, code_from(response, attempt))
    assert tokens.status_code == 200, tokens.content
    body = tokens.json()
    id_token = jwt.JWT(jwt=body["id_token"], key=keys.public_keyset(), algs=["RS256", "ES256"])
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert userinfo.status_code == 200
    return json.loads(id_token.claims), userinfo.json()


def test_app_asking_for_the_phone_scope_gets_the_person_asked_first(
    logged_in_client, storefront, phone
):
    attempt = Attempt(
        client_id=storefront.client_id, redirect_uri=SPA_CALLBACK, scope="openid phone"
    )

    asked = authorize(logged_in_client, attempt)

    assert asked.status_code == 302
    assert asked["Location"].startswith(QUESTIONS)
    assert query_of(asked["Location"])["next"] == attempt.url()
    page = logged_in_client.get(asked["Location"])
    assert b'name="profile_mobile"' in page.content
    assert b"profile-questions-skip" not in page.content, "a required field"
    bad = logged_in_client.post(asked["Location"], {"action": "save", "profile_mobile": "0123"})
    assert bad.status_code == 400
    back = logged_in_client.post(
        asked["Location"], {"action": "save", "profile_mobile": "+44 20 7946 0000"}
    )
    assert back.status_code == 302
    assert back["Location"] == attempt.url()

    id_claims, userinfo = claims_of(logged_in_client, attempt, authorize(logged_in_client, attempt))

    assert userinfo["phone_number"] == "+442079460000"
    assert userinfo["phone_number_verified"] is False
    assert id_claims["phone_number"] == "+442079460000"
    assert "email" not in userinfo


def test_the_person_is_asked_once_per_field(logged_in_client, user, storefront, phone):
    attempt = Attempt(
        client_id=storefront.client_id, redirect_uri=SPA_CALLBACK, scope="openid phone"
    )
    save_answers(user=user, fields=[phone], values={"mobile": "+12025550143"}, skip_blank=True)

    response = authorize(logged_in_client, attempt)

    assert urlsplit(response["Location"]).path != QUESTIONS
    code_from(response, attempt)


def test_an_app_not_asking_for_the_scope_does_not_ask(logged_in_client, storefront, phone):
    attempt = Attempt(
        client_id=storefront.client_id, redirect_uri=SPA_CALLBACK, scope="openid email"
    )
    id_claims, userinfo = claims_of(logged_in_client, attempt, authorize(logged_in_client, attempt))
    assert "phone_number" not in userinfo
    assert "phone_number" not in id_claims


def test_custom_claims_go_under_the_operators_scope_only(logged_in_client, storefront, shirt):
    fields_attempt = Attempt(
        client_id=storefront.client_id, redirect_uri=SPA_CALLBACK, scope="openid profile_fields"
    )
    asked = authorize(logged_in_client, fields_attempt)
    assert asked["Location"].startswith(QUESTIONS)
    page = logged_in_client.get(asked["Location"])
    assert b"profile-questions-skip" in page.content, "an optional field"
    logged_in_client.post(asked["Location"], {"action": "save", "profile_shirt_size": "M"})

    _, userinfo = claims_of(
        logged_in_client, fields_attempt, authorize(logged_in_client, fields_attempt)
    )
    plain = Attempt(client_id=storefront.client_id, redirect_uri=SPA_CALLBACK, scope="openid")
    _, plain_userinfo = claims_of(logged_in_client, plain, authorize(logged_in_client, plain))

    assert userinfo["shirt_size"] == "M"
    assert "shirt_size" not in plain_userinfo


def test_a_skipped_optional_field_is_not_asked_again_by_the_app(
    logged_in_client, user, storefront, shirt
):
    attempt = Attempt(
        client_id=storefront.client_id, redirect_uri=SPA_CALLBACK, scope="openid profile_fields"
    )
    asked = authorize(logged_in_client, attempt)
    skipped = logged_in_client.post(asked["Location"], {"action": "skip"})
    assert skipped["Location"] == attempt.url()

    _, userinfo = claims_of(logged_in_client, attempt, authorize(logged_in_client, attempt))

    assert "shirt_size" not in userinfo
    assert ProfileAnswer.objects.get(user=user, field=shirt).skipped


def test_third_party_app_asks_the_fields_before_its_consent_page(logged_in_client, partner, phone):
    attempt = Attempt(client_id=partner.client_id, redirect_uri=WEB_CALLBACK, scope="openid phone")

    asked = authorize(logged_in_client, attempt)
    assert asked["Location"].startswith(QUESTIONS)
    logged_in_client.post(asked["Location"], {"action": "save", "profile_mobile": "+12025550143"})
    consent_page = authorize(logged_in_client, attempt)

    assert consent_page.status_code == 200
    assert b"See your phone number" in consent_page.content


def test_prompt_none_cannot_ask_a_required_field(logged_in_client, storefront, phone, settings):
    attempt = Attempt(
        client_id=storefront.client_id, redirect_uri=SPA_CALLBACK, scope="openid phone"
    )

    response = authorize(logged_in_client, attempt, prompt="none")

    assert response.status_code == 302
    query = query_of(response["Location"])
    assert response["Location"].startswith(SPA_CALLBACK)
    assert query["error"] == "interaction_required"
    assert query["state"] == attempt.state


def test_prompt_none_goes_on_past_an_optional_field(logged_in_client, storefront, shirt):
    attempt = Attempt(
        client_id=storefront.client_id, redirect_uri=SPA_CALLBACK, scope="openid profile_fields"
    )
    code_from(authorize(logged_in_client, attempt, prompt="none"), attempt)


def test_a_sign_in_that_made_fields_due_asks_before_the_app_too(user, password, storefront):
    field("company", "company", ask_when=ProfileField.When.SIGN_INS, after_sign_ins=1)
    attempt = Attempt(client_id=storefront.client_id, redirect_uri=SPA_CALLBACK, scope="openid")
    client = Client()
    signed_out = authorize(client, attempt)
    login = client.post(signed_out["Location"], {"login": user.email, "password": password})
    assert login.status_code == 302
    back = client.get(login["Location"])

    assert back["Location"].startswith(QUESTIONS)
    assert query_of(back["Location"])["next"] == attempt.url()


def test_discovery_lists_the_profile_claims_and_scopes(client, shirt, phone):
    data = client.get("/.well-known/openid-configuration").json()
    assert {"phone_number", "shirt_size"} <= set(data["claims_supported"])
    assert {"phone", "profile_fields"} <= set(data["scopes_supported"])
