"""Sign-up in one motion, in headless Chromium: the password meter and toggle react as the
person types, the emailed code is typed in the same tab and signs them in; a new code after
its cooldown; "Wrong address?" without leaving the page. At desktop and phone widths."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from tests.conftest import require
from tests.e2e.test_accessibility_browser import CUT_OFF_JS, audit_page, axe_ready, overflow
from tests.e2e.test_signup_browser import OUTPUT, PASSWORD, browser_page, submit

__all__ = ["browser_page"]  # the fixture, shared with the link's test

VIEWPORTS = {"desktop": {"width": 1280, "height": 860}, "phone": {"width": 390, "height": 844}}


def code_in(message) -> str:
    match = re.search(r"^([A-Z0-9]{4}-[A-Z0-9]{4})$", str(message.body), re.MULTILINE)
    assert match, message.body
    return match.group(1)


def fits_the_screen(page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.browser
@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_sign_up_with_the_emailed_code_without_leaving_the_tab(browser_page, live_server, size):
    page = browser_page
    page.set_viewport_size(VIEWPORTS[size])
    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill("#id_email", "grace@example.com")

    # The meter: the server's estimate, announced in a live region, rules ticked as met.
    meter = page.locator(".password-meter")
    status = page.locator("#id_password1_strength")
    assert status.get_attribute("aria-live") == "polite"
    page.fill("#id_password1", "Password2024")
    page.wait_for_function("document.querySelector('.password-meter').dataset.score !== ''")
    assert int(meter.get_attribute("data-score") or "9") < 3
    assert "commonly used password" in status.inner_text()
    assert page.locator("[data-rule=length]").get_attribute("data-met") == "true"
    assert page.locator("[data-rule=strength]").get_attribute("data-met") == "false"
    page.fill("#id_password1", PASSWORD)
    page.wait_for_function("document.querySelector('.password-meter').dataset.score === '4'")
    page.wait_for_selector("[data-rule=strength][data-met=true]")
    assert "Very strong" in status.inner_text()

    # The toggle: a labelled button that shows and hides the password.
    toggle = page.get_by_role("button", name="Show password")
    toggle.click()
    assert page.locator("#id_password1").get_attribute("type") == "text"
    assert page.get_by_role("button", name="Hide password").get_attribute("aria-pressed") == "true"
    assert fits_the_screen(page)

    submit(page)
    assert page.url == f"{live_server.url}/accounts/confirm-email/"
    assert "grace@example.com" in page.content()
    assert page.locator("#resend-code").is_disabled(), "the cooldown shows on the button"
    assert fits_the_screen(page)
    page.screenshot(path=str(_shot(f"signup-code-{size}.png")), full_page=True)

    [message] = mail.outbox
    page.fill("#id_code", code_in(message))
    submit(page)

    assert page.url == f"{live_server.url}/account/"
    assert "grace@example.com" in page.content()
    assert len(page.context.pages) == 1


@pytest.mark.browser
def test_a_new_code_after_the_cooldown_and_a_wrong_address(browser_page, live_server, settings):
    settings.GATEHOUSE_SIGNUP_CODE_RESEND_COOLDOWN = 2
    page = browser_page
    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill("#id_email", "grace@exmaple.com")
    page.fill("#id_password1", PASSWORD)
    submit(page)

    # The button counts down, then comes back by itself.
    page.wait_for_selector("#resend-code:not([disabled])")
    assert "now" in page.locator("#resend-wait").inner_text()
    page.click("#resend-code")
    page.wait_for_load_state("networkidle")
    assert "We sent a new code" in page.content()
    assert len(mail.outbox) == 2

    page.click("summary:has-text('Wrong address?')")
    page.fill("#id_change_email", "grace@example.com")
    page.click("text=Send the code there")
    page.wait_for_load_state("networkidle")
    assert page.url == f"{live_server.url}/accounts/confirm-email/"
    message = mail.outbox[-1]
    assert message.to == ["grace@example.com"]

    page.fill("#id_code", code_in(message))
    submit(page)
    assert page.url == f"{live_server.url}/account/"
    assert "grace@example.com" in page.content()


@pytest.mark.browser
@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_the_meter_and_the_waiting_page_pass_axe(browser_page, live_server, size):
    ready, reason = axe_ready()
    require(ready, reason)
    page = browser_page
    page.set_viewport_size(VIEWPORTS[size])
    problems: dict[str, list] = {}

    def check(name: str) -> None:
        found = audit_page(page)
        if overflow(page) > 0:
            found.append({"rule": "page wider than the screen"})
        if page.evaluate(CUT_OFF_JS):
            found.append({"rule": "cut off at the screen's edge"})
        if found:
            problems[name] = found

    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill("#id_email", "grace@example.com")
    page.fill("#id_password1", "Password2024")
    page.wait_for_function("document.querySelector('.password-meter').dataset.score !== ''")
    check("sign-up with the meter")
    page.fill("#id_password1", PASSWORD)
    submit(page)
    page.click("summary:has-text('Wrong address?')")
    check("waiting page")
    page.fill("#id_code", "AAAA-AAAA")
    submit(page)
    assert page.locator("#id_code_error").count() == 1
    check("waiting page with a wrong code")

    assert problems == {}, problems


def _shot(name: str):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT / name
