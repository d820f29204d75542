"""The device authorization grant (RFC 8628) on oauthlib 4: a device asks for codes, the
person approves on /device, the device's polling gets tokens exactly once."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from jwcrypto import jwt

from accounts import services as accounts
from audit.models import AuditEvent
from consent.models import ConsentEvent
from provider import keys
from provider.models import AccessToken, Authorization, DeviceGrant, IDToken
from provider.services.applications import create_application
from tests.conftest import force_login_verified
from tests.factories import UserFactory

DEVICE = "/o/device-authorization/"
TOKEN = "/o/token/"
GRANT = "urn:ietf:params:oauth:grant-type:device_code"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def tv(signing_keys, invoices_api):
    return create_application(
        actor=None,
        name="Living-room TV",
        kind="native",
        redirect_uris=["http://127.0.0.1/callback"],
        allowed_scopes=["openid", "email"],
        apis={invoices_api: ["invoices:read"]},
    ).application


def ask(client, tv, scope="openid email"):
    return client.post(DEVICE, f"client_id={tv.client_id}&scope={scope}", content_type=FORM)


def poll(client, tv, device_code):
    body = f"grant_type={GRANT}&client_id={tv.client_id}&device_code={device_code}"
    return client.post(TOKEN, body, content_type=FORM)


def let_interval_pass():
    DeviceGrant.objects.update(last_checked=timezone.now() - timedelta(seconds=6))


def approve(client, user, user_code, decision="allow"):
    force_login_verified(client, user)
    page = client.post("/device", {"user_code": user_code})
    assert page.status_code == 200
    assert b"Living-room TV" in page.content
    return client.post("/device", {"user_code": user_code, "decision": decision})


def test_device_gets_tokens_once_after_the_person_allows_it(client, tv, user):
    codes = ask(client, tv).json()
    assert codes["verification_uri"].endswith("/device")
    assert codes["user_code"] in codes["verification_uri_complete"]
    stored = DeviceGrant.objects.get()
    assert codes["device_code"] not in (stored.device_code, stored.user_code)

    let_interval_pass()
    assert poll(client, tv, codes["device_code"]).json()["error"] == "authorization_pending"
    assert poll(client, tv, codes["device_code"]).json()["error"] == "slow_down"

    done = approve(client, user, codes["user_code"].lower().replace("-", " "))
    assert b"Device connected" in done.content
    assert AuditEvent.objects.filter(action="oauth.device_approved", actor=user).exists()

    let_interval_pass()
    tokens = poll(client, tv, codes["device_code"])
    assert tokens.status_code == 200, tokens.content
    body = tokens.json()
    assert body["scope"] == "openid email"
    assert AccessToken.objects.get().user == user

    let_interval_pass()
    again = poll(client, tv, codes["device_code"])
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert AccessToken.objects.count() == 1


def test_openid_device_gets_an_id_token_naming_who_approved(client, tv, user):
    codes = ask(client, tv).json()
    approve(client, user, codes["user_code"])
    let_interval_pass()
    body = poll(client, tv, codes["device_code"]).json()

    claims = json.loads(
        jwt.JWT(jwt=body["id_token"], key=keys.public_keyset(), algs=["RS256"]).claims
    )
    assert claims["sub"] == str(user.public_id)
    assert claims["aud"] == tv.client_id
    assert claims["email"] == user.email
    # The approval's sign-in: a forced test login has no allauth records, so one factor.
    assert claims["acr"] == "urn:gatehouse:pwd"
    assert "nonce" not in claims
    stored = IDToken.objects.get(jti=claims["jti"])
    assert stored.user == user
    assert stored.sid == claims["sid"]
    assert AccessToken.objects.get().id_token == stored


def test_device_without_openid_gets_no_id_token(client, tv, user):
    codes = ask(client, tv, scope="email").json()
    approve(client, user, codes["user_code"])
    let_interval_pass()
    body = poll(client, tv, codes["device_code"]).json()
    assert "access_token" in body
    assert "id_token" not in body
    assert not IDToken.objects.exists()


def test_approving_a_device_is_remembered_and_recorded_as_oauth_consent(client, tv, user):
    codes = ask(client, tv).json()
    approve(client, user, codes["user_code"])

    authorization = Authorization.objects.get(user=user, application=tv)
    assert set(authorization.scopes) == {"openid", "email"}
    [event] = ConsentEvent.objects.filter(user=user, method="oauth_consent")
    assert event.decision == "granted"
    assert authorization.consent_event == event
    # ... and so the app is listed among the person's connected apps, to be removed there.
    assert "Living-room TV" in client.get("/account/apps/").content.decode()


def test_denying_a_device_records_no_consent(client, tv, user):
    codes = ask(client, tv).json()
    approve(client, user, codes["user_code"], decision="deny")
    assert not Authorization.objects.exists()
    assert not ConsentEvent.objects.exists()


def test_a_person_blocked_after_approving_gets_the_device_nothing(client, tv, user):
    codes = ask(client, tv).json()
    approve(client, user, codes["user_code"])
    staff = UserFactory(email="support@gatehouse.test", is_staff=True)
    accounts.block_user(user=user, actor=staff, reason="Stolen phone")

    let_interval_pass()
    answer = poll(Client(), tv, codes["device_code"])  # the device, not the person's browser
    assert answer.json()["error"] == "access_denied"
    assert not AccessToken.objects.exists()


def test_signing_out_of_the_browser_that_approved_leaves_the_device_signed_in(
    client, tv, user, password
):
    browser = Client()
    browser.post("/accounts/login/", {"login": user.email, "password": password})
    codes = ask(client, tv).json()
    browser.post("/device", {"user_code": codes["user_code"]})
    browser.post("/device", {"user_code": codes["user_code"], "decision": "allow"})
    let_interval_pass()
    tokens = poll(client, tv, codes["device_code"]).json()

    browser.post("/accounts/logout/")

    assert AccessToken.objects.filter(user=user).count() == 1
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert userinfo.status_code == 200

    accounts.revoke_all_sessions(user=user, actor=user)  # signing out everywhere does end it
    gone = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert gone.status_code == 401


def test_signing_out_everywhere_denies_an_approved_device_not_yet_redeemed(client, tv, user):
    codes = ask(client, tv).json()
    approve(client, user, codes["user_code"])

    accounts.revoke_all_sessions(user=user, actor=user)

    let_interval_pass()
    assert poll(client, tv, codes["device_code"]).json()["error"] == "access_denied"
    assert not AccessToken.objects.exists()


def test_denied_request_answers_access_denied(client, tv, user):
    codes = ask(client, tv).json()
    approve(client, user, codes["user_code"], decision="deny")
    let_interval_pass()
    response = poll(client, tv, codes["device_code"])
    assert response.json()["error"] == "access_denied"
    assert not AccessToken.objects.exists()


def test_expired_request_answers_expired_token(client, tv):
    codes = ask(client, tv).json()
    DeviceGrant.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert poll(client, tv, codes["device_code"]).json()["error"] == "expired_token"


def test_missing_device_code_is_invalid_request_not_a_500(client, tv):
    response = client.post(TOKEN, f"grant_type={GRANT}&client_id={tv.client_id}", content_type=FORM)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_unknown_device_code_is_invalid_grant(client, tv):
    response = poll(client, tv, "not-a-device-code")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_device_request_must_be_a_form(client, tv):
    response = client.post(DEVICE, {"client_id": tv.client_id})  # multipart
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert not DeviceGrant.objects.exists()


def test_web_app_may_not_use_the_device_flow(client, signing_keys):
    web = create_application(
        actor=None, name="Web", kind="spa", redirect_uris=["https://app.example.com/cb"]
    ).application
    response = client.post(DEVICE, f"client_id={web.client_id}", content_type=FORM)
    assert response.json()["error"] == "unauthorized_client"


def test_scope_outside_the_apps_list_is_refused(client, tv):
    response = ask(client, tv, scope="openid profile")
    assert response.json()["error"] == "invalid_scope"
    assert not DeviceGrant.objects.exists()


def test_guessing_user_codes_is_throttled(client, tv, user):
    ask(client, tv)
    force_login_verified(client, user)
    statuses = [client.post("/device", {"user_code": "BCDF-GHJK"}).status_code for _ in range(11)]
    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429


def test_device_page_needs_a_signed_in_person(client):
    response = client.get("/device?user_code=BCDF-GHJK")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
