"""Values people paste elsewhere have copy buttons that work and say so; the address typed on
the login page follows its "Send me a sign-in code" and "Forgot your password?" links."""

from __future__ import annotations

import pytest

from organizations import services as org_services
from organizations.models import Membership
from sso import services as sso_services
from sso.models import Connection
from tests.e2e.test_mfa_browser import base_url, browser, sign_in_with_password  # noqa: F401
from tests.factories import UserFactory


def clipboard_page(browser, url):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def copy_and_read(page, button_name: str) -> str:
    """Click the copy button of that accessible name; what the clipboard then holds. The
    button says "Copied", and so does the live region screen readers follow."""
    button = page.get_by_role("button", name=button_name, exact=True).element_handle()
    button.click()
    # This button's own label first: the live region may still say "Copied" for the button
    # clicked before it.
    button.wait_for_selector(".copy-button__label:text-is('Copied')")
    page.locator("[data-copy-status][role=status]").filter(has_text="Copied").wait_for()
    assert button.query_selector(".copy-button__label").inner_text() == "Copied"
    return page.evaluate("navigator.clipboard.readText()")


@pytest.mark.browser
def test_copy_buttons_copy_the_sso_values_the_txt_record_and_the_setup_key(browser, live_server):  # noqa: F811
    url = base_url(live_server)
    owner = UserFactory(email="owner@acme.example")
    org = org_services.create_organization(actor=owner, name="Acme", slug="acme")
    acting = Membership.objects.get(organization=org, user=owner)
    domain = org_services.add_domain(actor=acting, org=org, name="acme.example")
    connection = sso_services.create_connection(
        actor=acting,
        org=org,
        site_url=url,
        protocol="saml",
        name="Okta",
    )
    page = clipboard_page(browser, url)
    sign_in_with_password(page, url, owner)

    page.goto(f"{url}/orgs/acme/sso/{connection.pk}/setup/")
    button = page.get_by_role("button", name="Copy ACS URL")
    assert button.is_visible()
    values = Connection.objects.get(pk=connection.pk)
    acs = page.locator("[data-sp-value=acs_url]").inner_text()
    assert copy_and_read(page, "Copy ACS URL") == acs
    assert copy_and_read(page, "Copy entity ID") == values.sp_entity_id
    metadata_url = page.locator("[data-sp-value=metadata_url]").inner_text()
    assert copy_and_read(page, "Copy SP metadata URL") == metadata_url

    page.goto(f"{url}/orgs/acme/domains/")
    value = copy_and_read(page, "Copy TXT record value for acme.example")
    domain.refresh_from_db()
    assert value == domain.record_value
    assert copy_and_read(page, "Copy TXT record name for acme.example") == domain.record_name

    page.goto(f"{url}/account/security/totp/")
    secret = page.locator("[data-totp-secret]").get_attribute("data-totp-secret")
    assert copy_and_read(page, "Copy setup key") == secret


@pytest.mark.browser
def test_the_typed_address_follows_to_the_sign_in_code_and_reset_pages(browser, live_server):  # noqa: F811
    url = base_url(live_server)
    page = clipboard_page(browser, url)

    page.goto(f"{url}/accounts/login/")
    page.fill("#id_login", "ada@example.com")
    page.click("#login-code-link")
    page.wait_for_url(f"{url}/accounts/login/code/")
    assert page.input_value("main input[name=email]") == "ada@example.com"
    # Only once: coming back to the page later starts empty again.
    page.reload()
    assert page.input_value("main input[name=email]") == ""

    page.goto(f"{url}/accounts/login/")
    page.fill("#id_login", "grace@example.com")
    page.click("#password-reset-link")
    page.wait_for_url(f"{url}/accounts/password/reset/")
    assert page.input_value("main input[name=email]") == "grace@example.com"
