"""A branded organization sign-in in headless Chromium: the organization's logo (served by
Gatehouse) and colours on every step, at desktop and phone widths, with no serious axe
violation; and the portal's live preview redrawing as an admin edits (issue 18, item 6)."""

from __future__ import annotations

from pprint import pformat

import pytest

from organizations import services as org_services
from organizations.models import Membership, Organization
from tests.conftest import require
from tests.e2e.test_accessibility_browser import (
    DESKTOP,
    PHONE,
    audit_page,
    axe_ready,
    overflow,
)
from tests.e2e.test_mfa_browser import base_url, browser, sign_in_with_password  # noqa: F401
from tests.factories import UserFactory
from tests.organizations import branding_images as images

PRIMARY = "rgb(11, 95, 255)"  # #0b5fff
BACKDROP = "rgb(15, 23, 42)"  # #0f172a
ON_BACKDROP = "rgb(248, 250, 252)"  # #f8fafc


def branded_org() -> tuple[Organization, object]:
    owner = UserFactory(email="owner@acme.example")
    org = org_services.create_organization(actor=owner, name="Acme", slug="acme")
    org = org_services.update_organization(
        actor=Membership.objects.get(organization=org, user=owner),
        org=org,
        name="Acme",
        logo_url="",
        brand_colour="#0b5fff",
        display_name="Acme Cloud",
        brand_background="#0f172a",
        brand_text="#f8fafc",
        logo=images.png(size=(120, 120)),
    )
    return org, owner


def style_of(page, selector: str, prop: str) -> str:
    return page.eval_on_selector(selector, f"e => getComputedStyle(e).{prop}")


def assert_wears_the_brand(page, url: str, org: Organization) -> None:
    assert org.logo is not None
    logo = page.locator("#org-brand-logo")
    assert logo.get_attribute("src") == f"/branding/logos/{org.logo.sha256}.png"
    # Loaded from Gatehouse itself, and decoded by the browser as an image.
    assert page.eval_on_selector("#org-brand-logo", "e => e.complete && e.naturalWidth") == 120
    assert "Acme Cloud" in page.inner_text("#org-brand")
    assert style_of(page, "main .btn:not(.btn--secondary)", "backgroundColor") == PRIMARY
    assert style_of(page, "body", "backgroundColor") == BACKDROP
    assert style_of(page, ".site-footer", "color") == ON_BACKDROP


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_branded_sign_in_shows_the_orgs_logo_and_colours(browser, live_server, viewport):  # noqa: F811
    ready, reason = axe_ready()
    require(ready, reason)
    url = base_url(live_server)
    org, _owner = branded_org()
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(15_000)
    outside_images: list[str] = []
    page.on(
        "request",
        lambda r: (
            outside_images.append(r.url)
            if r.resource_type == "image" and not r.url.startswith(url)
            else None
        ),
    )
    problems: dict[str, list] = {}

    page.goto(f"{url}/accounts/login/?org=acme")
    page.wait_for_load_state("networkidle")
    assert_wears_the_brand(page, url, org)
    steps = ["login"]
    # The next steps' links carry no ?org=: the sign-in stays branded all the same.
    for link, step in (("#login-code-link", "code"), ("text=Sign up", "signup")):
        found = audit_page(page)
        if overflow(page) > 0:
            found.append({"rule": "page wider than the screen", "by_px": overflow(page)})
        if found:
            problems[steps[-1]] = found
        page.goto(f"{url}/accounts/login/")
        page.locator(link).first.click()
        page.wait_for_load_state("networkidle")
        assert_wears_the_brand(page, url, org)
        steps.append(step)
    page.goto(f"{url}/accounts/password/reset/")
    page.wait_for_load_state("networkidle")
    assert_wears_the_brand(page, url, org)
    found = audit_page(page)
    if found:
        problems["reset"] = found
    context.close()
    assert outside_images == []
    assert problems == {}, pformat(problems)


@pytest.mark.browser
def test_the_portal_preview_follows_the_admins_edits(browser, live_server, tmp_path):  # noqa: F811
    url = base_url(live_server)
    _org, owner = branded_org()
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in_with_password(page, url, owner)
    page.goto(f"{url}/orgs/acme/settings/")
    page.wait_for_load_state("networkidle")
    preview_button = "#brand-preview .btn"
    assert style_of(page, preview_button, "backgroundColor") == PRIMARY

    page.fill("#id_brand_colour", "#7a1f5c")
    # Buttons ease into a new colour (a 0.15 s transition): wait for the end of it.
    page.wait_for_function(
        "([sel, want]) => getComputedStyle(document.querySelector(sel)).backgroundColor === want",
        arg=[preview_button, "rgb(122, 31, 92)"],
    )
    assert page.locator("#brand-preview-warning").is_hidden()
    page.fill("#id_display_name", "Acme Labs")
    assert page.inner_text("#brand-preview-name") == "Acme Labs"
    # A colour white text cannot be read on: the preview says so before saving.
    page.fill("#id_brand_colour", "#ffee00")
    assert page.locator("#brand-preview-warning").is_visible()
    assert "hard to read" in page.inner_text("#brand-preview-warning")
    # A chosen logo shows at once, read locally (a blob: URL), before any upload.
    logo_file = tmp_path / "new-logo.png"
    logo_file.write_bytes(images.png(size=(80, 80), colour=(0, 160, 90, 255)))
    page.set_input_files("#id_logo", str(logo_file))
    page.wait_for_function(
        "() => document.getElementById('brand-preview-logo').src.startsWith('blob:')"
    )
    # Saving the unreadable colour is refused by the server too, with a suggestion.
    page.click("#save-settings")
    page.wait_for_load_state("networkidle")
    assert "too light for white text" in page.content()
    context.close()
