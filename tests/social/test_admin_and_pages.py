"""Staff set providers up in the admin (secrets write-only, encrypted, audited without their
value); the sign-in and sign-up pages show a button per enabled provider only; the security
page lists linked providers; the loopback override of fixed hosts is off outside tests."""

from __future__ import annotations

import pytest
from allauth.socialaccount.models import SocialAccount
from django.test import Client

from audit.models import AuditEvent
from config import encryption
from social.models import Kind, SocialProvider
from tests.accounts.test_support_admin import StaffClient
from tests.conftest import force_login_verified
from tests.factories import UserFactory
from tests.social.conftest import make_provider

ADD = "/admin/social/socialprovider/add/"
SECRET = "s3cr3t-value-never-shown-Zq9"
APPLE_KEY = (
    "-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49-not-a-real-key\n-----END PRIVATE KEY-----"
)


@pytest.fixture
def staff() -> StaffClient:
    staff = UserFactory(email="support@gatehouse.test", is_staff=True, is_superuser=True)
    client = StaffClient()
    force_login_verified(client, staff)
    client.staff = staff
    return client


def form(**fields: str) -> dict:
    return {"position": "0", "client_secret": "", "apple_private_key": "", **fields}


def test_staff_add_a_google_provider_whose_secret_is_stored_encrypted_and_never_shown(staff):
    response = staff.post(
        ADD,
        form(
            kind="google",
            slug="google",
            name="Google",
            client_id="g-id",
            client_secret=SECRET,
            enabled="on",
        ),
    )

    assert response.status_code == 302, response.content[:2000]
    row = SocialProvider.objects.get(slug="google")
    assert row.client_secret_encrypted != SECRET
    assert SECRET not in row.client_secret_encrypted
    assert encryption.decrypt(row.client_secret_encrypted) == SECRET
    page = staff.get(f"/admin/social/socialprovider/{row.pk}/change/").content.decode()
    assert SECRET not in page
    assert row.client_secret_encrypted not in page
    assert "/accounts/social.google/login/callback/" in page  # the redirect URI to register
    event = AuditEvent.objects.get(action="social.provider_changed")
    assert "client_secret" in event.data["fields"]
    assert SECRET not in str(event.data)


def test_an_empty_secret_keeps_the_stored_one(staff):
    staff.post(
        ADD, form(kind="google", slug="google", name="Google", client_id="g", client_secret=SECRET)
    )
    row = SocialProvider.objects.get()

    staff.post(
        f"/admin/social/socialprovider/{row.pk}/change/",
        form(name="Google accounts", client_id="g", enabled="on"),
    )

    row.refresh_from_db()
    assert row.name == "Google accounts"
    assert encryption.decrypt(row.client_secret_encrypted) == SECRET


def test_an_apple_key_typed_into_a_refused_form_is_not_shown_back(staff):
    response = staff.post(
        ADD,
        form(
            kind="apple",
            slug="apple",
            name="Apple",
            client_id="com.example",
            apple_private_key=APPLE_KEY,
        ),
    )

    assert response.status_code == 200  # team id and key id missing
    assert "MIGTAgEAMBMGByqGSM49" not in response.content.decode()
    assert not SocialProvider.objects.exists()


def test_a_generic_provider_needs_an_https_issuer(staff, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = False
    response = staff.post(
        ADD,
        form(
            kind="oidc",
            slug="acme",
            name="Acme",
            client_id="c",
            client_secret=SECRET,
            issuer="http://id.example.com",
        ),
    )

    assert response.status_code == 200
    assert "Gatehouse cannot use this issuer" in response.content.decode()
    assert not SocialProvider.objects.exists()


def test_one_github_provider_only(staff):
    staff.post(
        ADD, form(kind="github", slug="github", name="GitHub", client_id="a", client_secret=SECRET)
    )

    response = staff.post(
        ADD,
        form(kind="github", slug="github2", name="GitHub 2", client_id="b", client_secret=SECRET),
    )

    assert response.status_code == 200
    assert SocialProvider.objects.filter(kind=Kind.GITHUB).count() == 1


def test_secret_columns_cannot_be_filtered_through_the_url(staff):
    response = staff.get(
        "/admin/social/socialprovider/", {"client_secret_encrypted__startswith": "g"}
    )
    assert response.status_code == 400


def test_buttons_show_on_sign_in_and_sign_up_for_enabled_providers_only(social_env, idp):
    make_provider(idp, Kind.GOOGLE, "google", name="Google")
    make_provider(idp, Kind.OIDC, "hidden", name="Hidden Co", issuer=idp.issuer, enabled=False)
    hidden = SocialProvider.objects.get(slug="hidden")
    hidden.enabled = False
    hidden.save()

    for path in ("/accounts/login/", "/accounts/signup/"):
        page = Client().get(path).content.decode()
        assert "Continue with Google" in page, path
        assert 'action="/accounts/social.google/login/"' in page
        assert "Hidden Co" not in page
        assert "<img" not in page.split('class="social-login"')[1].split("</section>")[0]


def test_no_buttons_without_providers(db):
    assert "Continue with" not in Client().get("/accounts/login/").content.decode()


def test_the_security_page_lists_linked_providers_and_offers_the_others(social_env, idp):
    google = make_provider(idp, Kind.GOOGLE, "google", name="Google")
    make_provider(idp, Kind.OIDC, "acme-id", name="Acme ID", issuer=idp.issuer)
    ada = UserFactory(email="ada@example.com")
    SocialAccount.objects.create(
        user=ada,
        provider=google.provider_id,
        uid="ada-sub",
        extra_data={"id_token": {"email": "ada@example.com"}},
    )
    client = Client()
    client.post(
        "/accounts/login/", {"login": ada.email, "password": "correct horse battery staple"}
    )

    page = client.get("/account/security/").content.decode()

    assert 'id="social-logins"' in page
    assert 'Unlink<span class="visually-hidden"> Google' in page
    assert 'data-provider="acme-id"' in page  # Link Acme ID
    assert 'data-provider="google">Link' not in page


def test_the_loopback_override_is_ignored_unless_loopback_is_allowed(settings):
    settings.SOCIAL_LOGIN_TEST_ENDPOINTS = {"google": "http://127.0.0.1:9"}
    row = SocialProvider(kind=Kind.GOOGLE, slug="google")
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = False
    assert row.discovery_url == "https://accounts.google.com/.well-known/openid-configuration"
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True
    assert row.discovery_url == "http://127.0.0.1:9/.well-known/openid-configuration"
