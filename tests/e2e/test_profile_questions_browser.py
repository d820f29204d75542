"""Progressive profiling in headless Chromium on a phone-sized screen: the sign-in that makes
fields due lands on the questions page, which passes axe-core and fits the screen; a bad phone
number is explained next to the field; the answer then shows on the profile page."""

from __future__ import annotations

import pytest

from accounts.profiling.models import ProfileField
from accounts.profiling.selectors import values_by_key
from tests.accounts.profiling_helpers import field
from tests.conftest import require
from tests.e2e.test_accessibility_browser import PHONE, audit_page, axe_ready, overflow
from tests.e2e.test_mfa_browser import base_url, browser, sign_in_with_password  # noqa: F401


@pytest.mark.browser
def test_questions_after_sign_in_on_a_phone(browser, live_server, user):  # noqa: F811
    ready, reason = axe_ready()
    require(ready, reason)
    field(
        "mobile",
        "phone",
        required=True,
        label="Mobile number",
        ask_when=ProfileField.When.SIGN_INS,
        after_sign_ins=1,
    )
    field("company", "company", ask_when=ProfileField.When.SIGN_INS, after_sign_ins=1)
    url = base_url(live_server)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)

    sign_in_with_password(page, url, user)

    assert page.url.startswith(f"{url}/account/profile/questions/"), page.url
    assert audit_page(page) == []
    assert overflow(page) <= 0
    assert page.locator("#profile-questions-skip").count() == 0, "a required field is due"
    page.fill("#id_profile_mobile", "12345")
    page.click("#profile-questions-save")
    page.wait_for_load_state("networkidle")
    assert "country code" in page.locator("main").inner_text()
    assert audit_page(page) == [], "the page with its error passes axe too"
    page.fill("#id_profile_mobile", "+44 20 7946 0000")
    page.click("#profile-questions-save")
    page.wait_for_load_state("networkidle")

    assert page.url == f"{url}/account/", page.url
    assert page.input_value("#id_profile_mobile") == "+44 20 7946 0000"
    context.close()
    assert values_by_key(user) == {"mobile": "+442079460000"}
