"""The provider in the Django admin: apps registered and changed through the services (the
secret shown once, redirect rules checked again), actions that ask for a reason, APIs, signing
keys, and tokens that are listed without their values."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.contrib import admin
from django.test import Client

from audit.models import AuditEvent
from config import secrets
from provider import keys
from provider.admin.applications import ApplicationAdmin
from provider.models import (
    AccessToken,
    Api,
    ApiAccess,
    Application,
    DeviceGrant,
    Grant,
    IDToken,
    KeyState,
    RefreshToken,
    SigningKey,
)
from provider.services.applications import create_application
from tests.conftest import force_login_verified
from tests.factories import UserFactory

APPS = "/admin/provider/application/"
APIS = "/admin/provider/api/"
KEYS = "/admin/provider/signingkey/"


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.staff = UserFactory(  # type: ignore[attr-defined]
        email="ops@gatehouse.test", is_staff=True, is_superuser=True
    )
    force_login_verified(client, client.staff)  # type: ignore[attr-defined]
    return client


def shown_secret(response) -> str:
    match = re.search(rb'<code id="client-secret">([^<]+)</code>', response.content)
    assert match, response.content[:800]
    return match.group(1).decode()


def web_app(name="Shop") -> Application:
    return create_application(
        actor=None, name=name, kind="web", redirect_uris=["https://shop.example.com/cb"]
    ).application


def act(staff, url, action, ids, **confirm):
    """Run an admin action: the reason page first, then the confirmation when ``confirm``."""
    data = {"action": action, "_selected_action": [str(pk) for pk in ids]}
    if confirm:
        data |= {"confirm": "1", **confirm}
    return staff.post(url, data)


def test_dots_own_admins_are_replaced():
    for model in (Application, AccessToken, RefreshToken, Grant, IDToken, DeviceGrant):
        assert type(admin.site._registry[model]).__module__.startswith("provider.admin.")
    assert isinstance(admin.site._registry[Application], ApplicationAdmin)


def test_registering_a_web_app_shows_its_secret_once(staff):
    response = staff.post(
        APPS + "add/",
        {
            "name": "Shop",
            "kind": "web",
            "redirect_uris": "https://shop.example.com/cb\nhttps://shop.example.com/cb2",
            "allowed_scopes": ["email", "profile"],
            "algorithm": "ES256",
        },
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = shown_secret(response)
    app = Application.objects.get(name="Shop")
    assert secrets.matches(secret, key_id=app.secret_key_id, digest=app.secret_digest)
    assert app.redirect_uris == "https://shop.example.com/cb https://shop.example.com/cb2"
    assert app.allowed_scopes == ["email", "profile"]
    event = AuditEvent.objects.get(action="oauth.app_created")
    assert event.actor_id == staff.staff.pk
    page = staff.get(f"{APPS}{app.pk}/change/")
    listing = staff.get(APPS, {"q": app.client_id})
    for later in (page, listing):
        assert later.status_code == 200
        assert secret.encode() not in later.content
        assert app.secret_digest.encode() not in later.content
        assert app.client_secret.encode() not in later.content
    assert [a.pk for a in listing.context["cl"].result_list] == [app.pk]


def test_a_web_app_with_a_plain_http_redirect_is_refused(staff):
    response = staff.post(
        APPS + "add/",
        {
            "name": "Shop",
            "kind": "web",
            "redirect_uris": "http://shop.example.com/cb",
            "algorithm": "RS256",
        },
    )
    assert response.status_code == 200
    assert b"must use https" in response.content
    assert not Application.objects.exists()


def test_the_secret_columns_cannot_be_searched_through_the_url(staff):
    app = web_app()
    response = staff.get(APPS, {"secret_digest__startswith": app.secret_digest[:2]})
    assert response.status_code == 400


def test_editing_redirect_uris_goes_through_the_service_and_its_rules(staff):
    app = web_app()
    form = {
        "name": "Shop",
        "redirect_uris": "http://evil.example.com/cb",
        "post_logout_redirect_uris": "",
        "allowed_scopes": ["email"],
        "logo_url": "",
        "description": "",
        "backchannel_logout_uri": "",
        # The (read-only) API access inline's management form.
        "api_access-TOTAL_FORMS": "0",
        "api_access-INITIAL_FORMS": "0",
    }
    refused = staff.post(f"{APPS}{app.pk}/change/", form)
    assert refused.status_code == 200
    assert b"must use https" in refused.content
    app.refresh_from_db()
    assert app.redirect_uris == "https://shop.example.com/cb"

    form["redirect_uris"] = "https://shop.example.com/new-cb"
    form["first_party"] = "on"
    accepted = staff.post(f"{APPS}{app.pk}/change/", form)
    assert accepted.status_code == 302, accepted.context["adminform"].form.errors
    app.refresh_from_db()
    assert app.redirect_uris == "https://shop.example.com/new-cb"
    assert app.first_party
    assert app.skip_authorization
    event = AuditEvent.objects.get(action="oauth.app_updated")
    assert event.data["changed"] == ["allowed_scopes", "first_party", "redirect_uris"]
    assert app.allowed_scopes == ["email"]
    assert event.actor_id == staff.staff.pk


def test_rotating_a_secret_asks_for_a_reason_and_shows_the_new_one_once(staff, client):
    app = web_app()
    page = act(staff, APPS, "rotate_secret", [app.pk])
    assert page.status_code == 200
    assert b"give a reason" in page.content
    unchanged = Application.objects.get(pk=app.pk)
    assert unchanged.secret_digest == app.secret_digest

    response = act(staff, APPS, "rotate_secret", [app.pk], reason="Leaked", overlap="0")
    assert response.status_code == 200
    new = shown_secret(response)
    app.refresh_from_db()
    assert secrets.matches(new, key_id=app.secret_key_id, digest=app.secret_digest)
    assert app.previous_secret_digest == ""  # no overlap chosen
    event = AuditEvent.objects.get(action="oauth.client_secret_rotated")
    assert event.data["reason"] == "Leaked"
    assert new not in str(event.data)


def test_rotating_two_secrets_at_once_is_refused(staff):
    first, second = web_app("One"), web_app("Two")
    response = act(staff, APPS, "rotate_secret", [first.pk, second.pk], reason="x", overlap="0")
    assert response.status_code == 302
    assert not AuditEvent.objects.filter(action="oauth.client_secret_rotated").exists()


def test_disable_and_enable_ask_for_a_reason(staff):
    app = web_app()
    act(staff, APPS, "disable_applications", [app.pk], reason="")
    app.refresh_from_db()
    assert app.disabled_at is None

    act(staff, APPS, "disable_applications", [app.pk], reason="Abuse report 42")
    app.refresh_from_db()
    assert app.disabled_at is not None
    assert AuditEvent.objects.get(action="oauth.app_disabled").data["reason"] == "Abuse report 42"

    act(staff, APPS, "enable_applications", [app.pk], reason="Resolved")
    app.refresh_from_db()
    assert app.disabled_at is None


def test_apis_are_created_and_changed_through_the_services(staff):
    response = staff.post(
        APIS + "add/",
        {
            "identifier": "https://invoices.example.com/",
            "name": "Invoices",
            "scopes": '{"invoices:read": "Read", "invoices:write": "Write"}',
            "access_token_lifetime": "300",
            "token_format": "jwt",
            "signing_alg": "ES256",
        },
    )
    assert response.status_code == 302, response.content[:500]
    api = Api.objects.get(identifier="https://invoices.example.com/")
    assert AuditEvent.objects.filter(action="oauth.api_created").count() == 1
    app = create_application(
        actor=None, name="Sync", kind="m2m", apis={api: ["invoices:read", "invoices:write"]}
    ).application

    response = staff.post(
        f"{APIS}{api.pk}/change/",
        {"name": "Invoices", "scopes": '{"invoices:read": "Read"}', "access_token_lifetime": "120"},
    )

    assert response.status_code == 302, response.content[:500]
    api.refresh_from_db()
    assert api.scopes == {"invoices:read": "Read"}
    assert api.access_token_lifetime == 120
    # The permission the API no longer defines is gone from the app's access too.
    assert ApiAccess.objects.get(application=app, api=api).scopes == ["invoices:read"]
    event = AuditEvent.objects.get(action="oauth.api_updated")
    assert event.data["removed_scopes"] == ["invoices:write"]


def test_a_bad_permission_name_is_refused_and_nothing_is_created(staff):
    response = staff.post(
        APIS + "add/",
        {
            "identifier": "https://bad.example.com/",
            "name": "Bad",
            "scopes": '{"openid": "no"}',
            "access_token_lifetime": "300",
            "token_format": "jwt",
            "signing_alg": "ES256",
        },
    )
    assert response.status_code == 302
    assert not Api.objects.filter(identifier="https://bad.example.com/").exists()


def test_signing_keys_are_listed_without_their_private_halves(staff, signing_keys):
    response = staff.get(KEYS)
    assert response.status_code == 200
    for key in SigningKey.objects.all():
        assert key.kid.encode() in response.content
        page = staff.get(f"{KEYS}{key.pk}/change/")
        assert page.status_code == 200
        assert key.private_jwk.encode() not in page.content
        private_d = keys._load(key.kid, key.alg, key.private_jwk).private.export_private(
            as_dict=True
        )["d"]
        assert private_d.encode() not in page.content
    assert staff.get(KEYS + "add/").status_code == 403


def test_key_actions_publish_then_activate_then_retire(staff, signing_keys, client):
    es256 = SigningKey.objects.get(alg="ES256", state=KeyState.ACTIVE)

    act(staff, KEYS, "publish_next", [es256.pk], reason="Quarterly rotation")
    waiting = SigningKey.objects.get(alg="ES256", state=KeyState.NEXT)
    jwks = client.get("/o/.well-known/jwks.json").json()
    assert waiting.kid in [k["kid"] for k in jwks["keys"]]

    # Too soon: verifiers may not have the new key yet.
    act(staff, KEYS, "activate_next", [waiting.pk], reason="Rotation")
    waiting.refresh_from_db()
    assert waiting.state == KeyState.NEXT
    act(staff, KEYS, "activate_next", [waiting.pk], reason="Key leaked", force="on")
    waiting.refresh_from_db()
    es256.refresh_from_db()
    assert waiting.state == KeyState.ACTIVE
    assert es256.state == KeyState.RETIRING

    # Not due (its tokens may still be alive) unless forced.
    act(staff, KEYS, "retire", [es256.pk], reason="Rotation")
    es256.refresh_from_db()
    assert es256.state == KeyState.RETIRING
    act(staff, KEYS, "retire", [es256.pk], reason="Key leaked", force="on")
    es256.refresh_from_db()
    assert es256.state == KeyState.RETIRED
    assert es256.kid not in [
        k["kid"] for k in client.get("/o/.well-known/jwks.json").json()["keys"]
    ]
    reasons = AuditEvent.objects.filter(action__startswith="oauth.signing_key_").values_list(
        "action", "data"
    )
    assert {(action, data.get("reason")) for action, data in reasons} >= {
        ("oauth.signing_key_created", "Quarterly rotation"),
        ("oauth.signing_key_activated", "Key leaked"),
        ("oauth.signing_key_retired", "Key leaked"),
    }


def test_tokens_are_read_only_and_never_show_their_values(staff, client, backend, invoices_api):
    body = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "resource": invoices_api.identifier},
        HTTP_AUTHORIZATION=backend.basic(),
    ).json()
    token = AccessToken.objects.get()
    checksum = hashlib.sha256(body["access_token"].encode()).hexdigest()

    listing = staff.get("/admin/provider/accesstoken/")
    page = staff.get(f"/admin/provider/accesstoken/{token.pk}/change/")
    for response in (listing, page):
        assert response.status_code == 200
        assert body["access_token"].encode() not in response.content
        assert checksum.encode() not in response.content
        assert body["access_token"][-4:].encode() not in response.content
    assert staff.get(f"/admin/provider/accesstoken/{token.pk}/delete/").status_code == 403
    assert staff.get("/admin/provider/accesstoken/add/").status_code == 403
    probe = staff.get("/admin/provider/accesstoken/", {"token_checksum__startswith": checksum[:2]})
    assert probe.status_code == 400


@pytest.mark.parametrize(
    "model", ["accesstoken", "refreshtoken", "grant", "idtoken", "devicegrant", "api"]
)
def test_every_provider_list_opens(staff, model, signing_keys):
    response = staff.get(f"/admin/provider/{model}/")
    assert response.status_code == 200


def test_a_signing_keys_own_page_has_no_save_button(staff, signing_keys):
    key = SigningKey.objects.first()
    assert key is not None
    page = staff.get(f"{KEYS}{key.pk}/change/")
    assert b'name="_save"' not in page.content
    assert staff.post(f"{KEYS}{key.pk}/change/", {"state": "retired"}).status_code == 403
    key.refresh_from_db()
    assert key.state == KeyState.ACTIVE


def test_api_permissions_are_chosen_one_by_one_and_changed_through_the_service(
    staff, invoices_api, reports_api
):
    response = staff.post(
        APPS + "add/",
        {
            "name": "Billing",
            "kind": "m2m",
            "algorithm": "RS256",
            "api_permissions": [f"{invoices_api.pk}:invoices:read"],
        },
    )
    assert response.status_code == 200
    app = Application.objects.get(name="Billing")
    assert ApiAccess.objects.get(application=app).scopes == ["invoices:read"]

    form = {
        "name": "Billing",
        "redirect_uris": "",
        "post_logout_redirect_uris": "",
        "logo_url": "",
        "description": "",
        "backchannel_logout_uri": "",
        "api_permissions": [
            f"{invoices_api.pk}:invoices:write",
            f"{reports_api.pk}:reports:read",
        ],
        "api_access-TOTAL_FORMS": "1",
        "api_access-INITIAL_FORMS": "1",
        "api_access-0-id": str(ApiAccess.objects.get(application=app).pk),
        "api_access-0-application": str(app.pk),
    }
    response = staff.post(f"{APPS}{app.pk}/change/", form)
    assert response.status_code == 302, response.content[:500]
    access = {a.api_id: a.scopes for a in ApiAccess.objects.filter(application=app)}
    assert access == {invoices_api.pk: ["invoices:write"], reports_api.pk: ["reports:read"]}
    assert AuditEvent.objects.filter(action="oauth.app_updated").count() == 2


def test_staff_without_a_verified_second_factor_are_sent_away():
    web_app()
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for url in (APPS, APPS + "add/", KEYS, "/admin/provider/accesstoken/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/admin/login/" in response["Location"]
