"""Consent in a real browser: sign-up with the terms ticked and marketing left unticked; a new
version of the terms that asks for re-acceptance meets the person at their next login, and no
address gets around it; they accept, land where they were going, and withdraw a consent from
the privacy page with one click. Then they ask for their account to be deleted (typing the
word), see the banner, and keep their account after all."""

from __future__ import annotations

import pytest
from django.core import mail

from accounts.models import User
from consent.models import ConsentEvent, ConsentState, DataSubjectRequest, Purpose
from tests.conftest import links_in
from tests.consent.conftest import publish, published, purposes  # noqa: F401
from tests.e2e.test_signup_browser import OUTPUT, PASSWORD, browser_page, submit  # noqa: F401


@pytest.mark.browser
def test_sign_up_with_consents_then_reaccept_then_withdraw(
    browser_page,  # noqa: F811
    live_server,
    published,  # noqa: F811
):
    page = browser_page
    base = live_server.url
    OUTPUT.mkdir(parents=True, exist_ok=True)

    page.goto(f"{base}/accounts/signup/")
    page.fill("#id_email", "zoe@example.com")
    page.fill("#id_password1", PASSWORD)
    # Leaving the required boxes unticked gets the form back.
    submit(page)
    assert not User.objects.filter(email="zoe@example.com").exists()
    assert page.locator("#id_consent_marketing_email").is_checked() is False
    page.check("#id_consent_terms")
    page.check("#id_consent_privacy")
    page.check("#id_consent_analytics")
    submit(page)
    [message] = mail.outbox
    [link] = [link for link in links_in(message) if "/accounts/confirm-email/" in link]
    page.goto(link)
    submit(page)
    # The link signed Zoe in (this is the browser that signed up); she signs out for now.
    page.goto(f"{base}/accounts/logout/")
    submit(page)
    zoe = User.objects.get(email="zoe@example.com")
    assert set(ConsentEvent.objects.filter(user=zoe).values_list("purpose__key", flat=True)) == {
        "terms",
        "privacy",
        "analytics",
    }

    publish("terms", reaccept=True, summary="We now explain refunds.")

    page.goto(f"{base}/accounts/login/?next=/account/sessions/")
    page.fill("#id_login", "zoe@example.com")
    page.fill("#id_password", PASSWORD)
    submit(page)
    assert "/account/privacy/accept/" in page.url
    assert "We now explain refunds." in page.content()
    page.screenshot(path=str(OUTPUT / "consent-reaccept.png"), full_page=True)
    for elsewhere in ("/account/", "/account/security/", "/orgs/", "/account/email/"):
        page.goto(f"{base}{elsewhere}")
        assert "/account/privacy/accept/" in page.url, elsewhere

    page.goto(f"{base}/account/privacy/accept/?next=/account/sessions/")
    page.check("#accept-terms")
    page.click("#accept-and-continue")
    page.wait_for_load_state("networkidle")
    assert page.url == f"{base}/account/sessions/"

    page.goto(f"{base}/account/privacy/")
    page.click("#withdraw-analytics")
    page.wait_for_load_state("networkidle")
    assert page.locator("#grant-analytics").is_visible()
    analytics = Purpose.objects.get(key="analytics", organization__isnull=True)
    assert not ConsentState.objects.get(user=zoe, purpose=analytics).granted
    page.screenshot(path=str(OUTPUT / "consent-privacy-page.png"), full_page=True)

    # Deleting the account: the password login above is a fresh step-up.
    page.click("#erasure-start")
    page.wait_for_load_state("networkidle")
    assert page.url == f"{base}/account/privacy/delete/"
    page.fill("#id_confirm", "delete")
    page.click("#erasure-confirm")
    page.wait_for_load_state("networkidle")
    assert page.url.startswith(f"{base}/account/privacy/")
    assert page.locator("#erasure-banner").is_visible()
    page.screenshot(path=str(OUTPUT / "consent-erasure-scheduled.png"), full_page=True)
    assert DataSubjectRequest.objects.get(user=zoe, kind="erasure").status == "scheduled"
    page.click("#erasure-cancel")
    page.wait_for_load_state("networkidle")
    assert page.locator("#erasure-banner").count() == 0
    assert page.locator("#erasure-start").is_visible()
    assert DataSubjectRequest.objects.get(user=zoe, kind="erasure").status == "cancelled"
