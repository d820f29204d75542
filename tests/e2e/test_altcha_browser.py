"""Under suspected credential stuffing, a real browser solves the ALTCHA proof of work on the
login page (the widget's script served by Gatehouse itself) and signs in."""

from __future__ import annotations

import pytest

from accounts.models import SignInRisk
from accounts.takeover import stuffing
from tests.conftest import chromium_path, require
from tests.e2e.test_signup_browser import CHROMIUM_FLAGS, submit
from tests.factories import DEFAULT_PASSWORD, UserFactory


@pytest.fixture
def page(live_server, settings, monkeypatch):
    executable = chromium_path()
    require(executable is not None, "Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
    # Plain static names on the live server (no manifest), so the widget's script loads.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 860})
            tab.set_default_timeout(30_000)
            yield tab
        finally:
            browser.close()
            # ORM calls made while Playwright's loop ran used a connection of their own.
            from django.db import connections

            connections.close_all()


@pytest.mark.browser
def test_browser_solves_the_challenge_and_signs_in(page, live_server, settings):
    settings.GATEHOUSE_STUFFING = {**settings.GATEHOUSE_STUFFING, "network_addresses": 3}
    user = UserFactory()
    for n in range(3):  # stuffing from the browser's own network (loopback's /24)
        stuffing.record_failure(ip=f"127.0.0.{n + 10}", login=f"victim{n}@example.com")
    scripts_loaded: list[str] = []
    page.on("response", lambda r: scripts_loaded.append(r.url) if "altcha" in r.url else None)

    page.goto(f"{live_server.url}/accounts/login/")
    assert page.locator("altcha-widget").count() == 1
    page.fill("#id_login", user.email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.locator("altcha-widget input[type=checkbox]").click()
    page.wait_for_function(
        "() => { const i = document.querySelector('input[name=altcha]');"
        " return i !== null && i.value.length > 20; }"
    )
    submit(page)

    assert page.url == f"{live_server.url}/account/"
    assert any(url.startswith(live_server.url) for url in scripts_loaded)
    assert SignInRisk.objects.get(user=user).challenged is True
