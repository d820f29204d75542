"""Second factors in a real browser: an authenticator app, and a passkey on Chromium's
virtual WebAuthn authenticator (DevTools protocol) that signs in without a password."""

from __future__ import annotations

import pyotp
import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from audit.models import AuditEvent
from tests.accounts.mfa_helpers import unused_totp
from tests.conftest import chromium_path, require
from tests.e2e.test_signup_browser import CHROMIUM_FLAGS, OUTPUT
from tests.factories import DEFAULT_PASSWORD


@pytest.fixture
def browser(live_server, settings, monkeypatch):
    executable = chromium_path()
    require(executable is not None, "Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
    # The live server finds static files by their plain names (not the hashed names of the
    # production manifest), and these pages need their scripts.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Passkeys are bound to a host name, never an IP address: browse the live server as
    # localhost, the relying party these tests register with.
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [live_server.url.replace("127.0.0.1", "localhost")]
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()
            # The test's ORM calls ran while Playwright's event loop was running, on a database
            # connection of that context: close it, or it outlives the test database.
            from django.db import connections

            connections.close_all()


def base_url(live_server) -> str:
    return live_server.url.replace("127.0.0.1", "localhost")


def new_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def sign_in_with_password(page, url: str, user) -> None:
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_login", user.email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state("networkidle")


@pytest.mark.browser
def test_enroll_an_authenticator_app_and_log_in_with_it(browser, live_server, user):
    url = base_url(live_server)
    page = new_page(browser)
    sign_in_with_password(page, url, user)
    assert page.url == f"{url}/account/"

    page.goto(f"{url}/account/security/")
    page.get_by_role("link", name="Add authenticator app").click()
    page.wait_for_load_state("networkidle")
    assert page.locator(".totp-qr__image svg").count() == 1
    secret = page.locator("[data-totp-secret]").get_attribute("data-totp-secret")
    page.fill("#totp-confirm-form input[name=code]", pyotp.TOTP(secret).now())
    page.fill("#totp-confirm-form input[name=name]", "Browser phone")
    page.locator("#totp-confirm-form button[type=submit]").click()
    page.wait_for_load_state("networkidle")

    assert page.locator("code.backup-code").count() == 10
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "mfa-backup-codes.png"), full_page=True)
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    assert device.name == "Browser phone"

    # A fresh browser: password, then the app's next code.
    page = new_page(browser)
    sign_in_with_password(page, url, user)
    assert page.url == f"{url}/accounts/2fa/"
    page.screenshot(path=str(OUTPUT / "mfa-second-step.png"), full_page=True)
    page.fill("#code-totp", unused_totp(device))
    page.locator("#form-totp button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert page.url == f"{url}/account/"
    event = AuditEvent.objects.filter(action="login.succeeded").latest("occurred_at")
    assert {k: v for k, v in event.data.items() if k != "risk"} == {
        "method": "password",
        "second_factor": "totp",
    }
    assert set(event.data["risk"]) >= {"new_device", "new_network", "risky"}


@pytest.mark.browser
def test_register_a_passkey_and_sign_in_with_it_without_a_password(browser, live_server, user):
    url = base_url(live_server)
    page = new_page(browser)
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]
    sign_in_with_password(page, url, user)

    page.goto(f"{url}/account/security/")
    page.click("#passkey-register-button")
    page.wait_for_selector("li.factor[data-kind=passkey]")

    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    [stored] = credentials["credentials"]
    assert stored["isResidentCredential"] is True
    assert stored["rpId"] == "localhost"
    assert WebAuthnCredential.objects.filter(user=user, discoverable=True).count() == 1

    # Signed out, the login page offers the passkey through autofill: Chromium's authenticator
    # holds one discoverable credential and answers the page's conditional request itself,
    # so no password is typed and no button is clicked.
    page.context.clear_cookies()
    page.goto(f"{url}/accounts/login/")
    page.wait_for_url(f"{url}/account/")
    page.wait_for_load_state("networkidle")
    event = AuditEvent.objects.filter(action="login.succeeded").latest("occurred_at")
    assert {k: v for k, v in event.data.items() if k != "risk"} == {"method": "passkey"}
    assert set(event.data["risk"]) >= {"new_device", "new_network", "risky"}
    page.screenshot(path=str(OUTPUT / "mfa-passkey-signed-in.png"), full_page=True)
