"""A person signs up in a real browser, verifies with the email's link, logs in, sees their
account."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core import mail

from tests.conftest import chromium_path, links_in, require

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "browser"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "violet-Anchor-quarry-81"


@pytest.fixture
def browser_page(live_server, settings, monkeypatch):
    executable = chromium_path()
    require(executable is not None, "Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls the test makes
    # between browser steps are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
    # The live server finds static files by their plain names (not the hashed names of the
    # production manifest): pages must ask for those to get their CSS and scripts.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            browser.close()


def submit(page) -> None:
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state("networkidle")


@pytest.mark.browser
def test_sign_up_verify_log_in_and_see_account(browser_page, live_server):
    page = browser_page
    OUTPUT.mkdir(parents=True, exist_ok=True)

    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill("#id_email", "grace@example.com")
    page.fill("#id_password1", PASSWORD)
    submit(page)
    assert page.url.endswith("/accounts/confirm-email/")

    [message] = mail.outbox
    [link] = [link for link in links_in(message) if "/accounts/confirm-email/" in link]
    page.goto(link)
    submit(page)
    # The link opened in the browser that signed up signs in too (the code is the other way:
    # tests/e2e/test_signup_code_browser.py).
    assert page.url == f"{live_server.url}/account/"

    page.goto(f"{live_server.url}/accounts/logout/")
    submit(page)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_login", "grace@example.com")
    page.fill("#id_password", PASSWORD)
    submit(page)

    assert page.url == f"{live_server.url}/account/"
    assert "grace@example.com" in page.content()
    page.screenshot(path=str(OUTPUT / "account-after-signup.png"), full_page=True)
    assert (OUTPUT / "account-after-signup.png").stat().st_size > 10_000
