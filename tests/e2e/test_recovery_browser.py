"""Lost every factor, in a real browser: ask at the second step, then cancel from the email.

The recovery pages pass axe-core and fit a phone's width, like the main pages
(tests/e2e/test_accessibility_browser.py).
"""

from __future__ import annotations

import pytest
from django.core import mail

from accounts.models import MFAReset
from tests.accounts.mfa_helpers import enroll_totp
from tests.conftest import links_in, path_of, require
from tests.e2e.test_accessibility_browser import PHONE, audit_page, axe_ready, overflow
from tests.e2e.test_mfa_browser import base_url, browser, sign_in_with_password  # noqa: F401
from tests.factories import UserFactory


def _check(page, problems: dict, name: str) -> None:
    found = audit_page(page)
    extra = overflow(page)
    if extra > 0:
        found.append({"rule": "page wider than the screen", "by_px": extra})
    if found:
        problems[name] = found


@pytest.mark.browser
def test_ask_for_a_reset_at_the_second_step_then_cancel_it_from_the_email(
    browser,  # noqa: F811
    live_server,
):
    ready, why = axe_ready()
    require(ready, why)
    url = base_url(live_server)
    person = UserFactory(email="robin@example.com")
    enroll_totp(person)
    problems: dict = {}

    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in_with_password(page, url, person)
    assert page.url == f"{url}/accounts/2fa/"
    page.click("#lost-factors")
    page.wait_for_load_state("networkidle")
    assert page.url == f"{url}/accounts/2fa/lost/"
    _check(page, problems, "lost factors")
    mail.outbox.clear()

    page.click("#schedule-reset")
    page.wait_for_load_state("networkidle")

    assert page.locator("#reset-due").is_visible()
    _check(page, problems, "reset scheduled")
    reset = MFAReset.objects.get(user=person)
    assert reset.status == MFAReset.Status.PENDING
    [message] = mail.outbox
    [link] = [link for link in links_in(message) if "/accounts/2fa/reset/cancel/" in link]

    # The link opens in another browser, signed in to nothing.
    elsewhere = browser.new_context(viewport=PHONE).new_page()
    elsewhere.goto(f"{url}{path_of(link)}")
    elsewhere.wait_for_load_state("networkidle")
    _check(elsewhere, problems, "cancel the reset")
    elsewhere.click("#confirm-cancel")
    elsewhere.wait_for_load_state("networkidle")

    assert elsewhere.locator("#reset-cancelled").is_visible()
    _check(elsewhere, problems, "reset cancelled")
    reset.refresh_from_db()
    assert reset.status == MFAReset.Status.CANCELLED
    # A tampered link gets a clear page, which passes too.
    elsewhere.goto(f"{url}{path_of(link)[:-4]}xyz/")
    assert elsewhere.locator("#reset-cancel-error").is_visible()
    _check(elsewhere, problems, "bad link")
    context.close()
    assert problems == {}, problems
