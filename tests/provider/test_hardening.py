"""Defects a security review of the provider found, each shown fixed: malformed query strings,
the token quota's keying, refresh after access was taken away or the person blocked, a device
or a code switched to another API, a code replayed while its first exchange is saving, and
self-registered clients on the device flow."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.services import block_user
from provider.models import AccessToken, ApiAccess, Application, RefreshToken
from provider.services.applications import create_application
from provider.services.revocation import revoke_code_family
from provider.validator import GatehouseValidator
from tests.factories import UserFactory
from tests.provider.flows import (
    SPA_CALLBACK,
    WEB_CALLBACK,
    Attempt,
    authorize,
    code_from,
    redeem,
    refresh,
)
from tests.provider.test_device_flow import (
    approve,
    ask,
    let_interval_pass,
    tv,  # noqa: F401  (fixture)
)

FORM = "application/x-www-form-urlencoded"


def tokens_for(client, attempt, auth=None, **body):
    response = authorize(client, attempt)
    if response.status_code == 200:  # consent
        response = client.post(attempt.url(), {"decision": "allow"})
    return redeem(client, attempt, code_from(response, attempt), auth=auth, **body)


@pytest.fixture
def web_attempt(webapp) -> Attempt:
    return Attempt(
        client_id=webapp.client_id,
        redirect_uri=WEB_CALLBACK,
        scope="openid offline_access invoices:read",
        extra={"resource": "https://invoices.example.com/"},
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/o/token/"),
        ("post", "/o/introspect/"),
        ("post", "/o/revoke_token/"),
        ("post", "/o/device-authorization/"),
        ("get", "/o/userinfo/"),
        ("get", "/o/authorize/"),
        ("get", "/o/logout/"),
    ],
)
def test_a_malformed_query_string_is_400_not_500(client, method, path):
    response = getattr(client, method)(path + "?x=%zz")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_bad_secrets_under_a_clients_id_do_not_use_up_its_quota(
    client, backend, invoices_api, settings
):
    settings.GATEHOUSE_OAUTH_TOKEN_REQUESTS_PER_MINUTE = 2
    for _ in range(5):
        forged = client.post(
            "/o/token/",
            {
                "grant_type": "client_credentials",
                "client_id": backend.client_id,
                "client_secret": "guess",
            },
        )
        assert forged.status_code == 401
    good = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "resource": invoices_api.identifier},
        HTTP_AUTHORIZATION=backend.basic(),
    )
    assert good.status_code == 200


def test_the_quota_cannot_be_dodged_by_spelling_basic_differently(
    client, backend, invoices_api, settings
):
    settings.GATEHOUSE_OAUTH_TOKEN_REQUESTS_PER_MINUTE = 2
    statuses = []
    for n in range(4):
        response = client.post(
            "/o/token/",
            {
                "grant_type": "client_credentials",
                "client_id": backend.client_id,
                "client_secret": backend.secret,
                "resource": invoices_api.identifier,
            },
            HTTP_AUTHORIZATION=f"BASIC junk{n}",
        )
        statuses.append(response.status_code)
    assert statuses[2:] == [429, 429]
    assert AccessToken.objects.count() == 2


def test_refresh_stops_once_the_api_is_taken_away(logged_in_client, webapp, web_attempt):
    body = tokens_for(logged_in_client, web_attempt, auth=webapp.basic()).json()
    ApiAccess.objects.filter(application=webapp.application).delete()
    response = refresh(
        logged_in_client, webapp.client_id, body["refresh_token"], auth=webapp.basic()
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_refresh_stops_once_the_person_is_blocked(logged_in_client, user, webapp, web_attempt):
    body = tokens_for(logged_in_client, web_attempt, auth=webapp.basic()).json()
    user.is_blocked = True  # the flag alone, whatever else blocking also revokes
    user.save(update_fields=["is_blocked"])
    response = refresh(Client(), webapp.client_id, body["refresh_token"], auth=webapp.basic())
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_code_cannot_be_exchanged_for_another_api(
    logged_in_client, webapp, web_attempt, reports_api
):
    response = authorize(logged_in_client, web_attempt)
    if response.status_code == 200:
        response = logged_in_client.post(web_attempt.url(), {"decision": "allow"})
    code = code_from(response, web_attempt)
    swapped = redeem(
        logged_in_client, web_attempt, code, auth=webapp.basic(), resource=reports_api.identifier
    )
    assert swapped.status_code == 400
    assert swapped.json()["error"] == "invalid_target"
    assert not AccessToken.objects.exists()


def test_a_device_cannot_switch_its_token_to_another_api(client, tv, user, reports_api):  # noqa: F811
    codes = ask(client, tv, scope="openid").json()
    approve(client, user, codes["user_code"])
    let_interval_pass()
    body = (
        f"grant_type=urn:ietf:params:oauth:grant-type:device_code&client_id={tv.client_id}"
        f"&device_code={codes['device_code']}&resource={reports_api.identifier}"
    )
    response = client.post("/o/token/", body, content_type=FORM)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"
    assert not AccessToken.objects.exists()


def test_a_replay_during_the_first_exchange_issues_nothing(logged_in_client, spa, monkeypatch):
    """The replay lands after the first exchange claimed the code and before it saved its
    tokens (simulated by revoking in between): nothing is issued. (Had the replay come
    after the save began, it would wait on the code's row lock and revoke what was saved.)"""
    attempt = Attempt(
        client_id=spa.client_id, redirect_uri=SPA_CALLBACK, scope="openid offline_access"
    )
    original = GatehouseValidator.validate_code

    def claim_then_replay(self, client_id, code, client, request, *args, **kwargs):
        claimed = original(self, client_id, code, client, request, *args, **kwargs)
        print("CLAIMED", claimed, request.family)
        revoke_code_family(family=request.family, client_id=client_id)
        return claimed

    monkeypatch.setattr(GatehouseValidator, "validate_code", claim_then_replay)
    response = tokens_for(logged_in_client, attempt)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.exists()
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


def test_self_registered_clients_may_not_use_the_device_flow(client, signing_keys):
    agent = create_application(
        actor=None, name="x", kind="native", redirect_uris=["http://127.0.0.1/cb"]
    ).application
    Application.objects.filter(pk=agent.pk).update(registration_source="cimd")
    response = client.post(
        "/o/device-authorization/", f"client_id={agent.client_id}", content_type=FORM
    )
    assert response.json()["error"] == "unauthorized_client"


def test_blocking_is_the_real_service_too(logged_in_client, user, webapp, web_attempt):
    body = tokens_for(logged_in_client, web_attempt, auth=webapp.basic()).json()
    block_user(user=user, actor=UserFactory(is_staff=True), reason="fraud")
    response = refresh(Client(), webapp.client_id, body["refresh_token"], auth=webapp.basic())
    assert response.status_code == 400
