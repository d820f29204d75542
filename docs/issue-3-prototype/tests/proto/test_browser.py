import pytest
from tests.conftest import chromium_path
from tests.e2e.test_signup_browser import CHROMIUM_FLAGS
from tests.factories import DEFAULT_PASSWORD
from django_otp_webauthn.models import WebAuthnCredential


@pytest.fixture
def page(live_server, settings, monkeypatch):
    from playwright.sync_api import sync_playwright
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [live_server.url]
    print("LIVE", live_server.url)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(15000)
        page.on("console", lambda m: print("CONSOLE", m.type, m.text))
        page.on("response", lambda r: r.status >= 400 and print("HTTP", r.status, r.url))
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable", {"enableUI": False})
        auth = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
            "hasUserVerification": True, "isUserVerified": True,
            "automaticPresenceSimulation": True}})
        page._cdp, page._auth = cdp, auth["authenticatorId"]
        yield page
        browser.close()


def test_register_passkey_then_passwordless(page, live_server, user):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_login", user.email); page.fill("#id_password", DEFAULT_PASSWORD)
    page.locator("main form button[type=submit]").first.click(); page.wait_for_load_state("networkidle")
    print("AFTER LOGIN", page.url)
    page.goto(f"{live_server.url}/proto/register/")
    page.click("#passkey-register-button")
    page.wait_for_function("document.getElementById('passkey-register-status-message').textContent.length > 0")
    print("REG STATUS", page.text_content("#passkey-register-status-message"))
    creds = page._cdp.send("WebAuthn.getCredentials", {"authenticatorId": page._auth})
    print("CDP CREDS", [(c["isResidentCredential"], c["rpId"], c.get("signCount")) for c in creds["credentials"]])
    assert WebAuthnCredential.objects.filter(user=user).count() == 1
    print("DISCOVERABLE", WebAuthnCredential.objects.get(user=user).discoverable)
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/proto/login/")
    print("AUTOCOMPLETE-EARLY", page.evaluate("document.querySelector('#id_login') && document.querySelector('#id_login').getAttribute('autocomplete')"))
    page.wait_for_timeout(3000)
    print("URL after wait", page.url)
    if page.url.endswith("/proto/login/"):
        page.click("#passkey-verification-button")
        page.wait_for_url(f"{live_server.url}/account/")
    print("FINAL", page.url)
    assert page.url == f"{live_server.url}/account/"
