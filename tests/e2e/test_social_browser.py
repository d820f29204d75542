"""A person signs up with "Continue with <an OpenID provider>" in a real browser: the button on
the sign-up page, the provider (oidc-provider on loopback), the consent boxes, their account."""

from __future__ import annotations

import importlib
from urllib.parse import urljoin, urlsplit

import pytest
from allauth.socialaccount.models import SocialAccount
from django.apps import apps

from accounts.models import User
from social import services
from social.models import Kind, SocialProvider
from social.templatetags.social_login import callback_path
from tests.conftest import require
from tests.consent.conftest import publish
from tests.e2e.test_mfa_browser import browser, new_page  # noqa: F401
from tests.e2e.test_signup_browser import OUTPUT
from tests.social.conftest import SocialIdP
from tests.sso.peers import node_ready

_consent_defaults = importlib.import_module("consent.migrations.0003_default_purposes")


@pytest.fixture
def idp():
    ready, reason = node_ready()
    require(ready, reason)
    peer = SocialIdP()
    yield peer
    peer.close()


@pytest.mark.browser
def test_sign_up_with_an_openid_provider_through_the_consent_boxes(
    browser,  # noqa: F811
    live_server,
    idp,
    settings,
):
    url = live_server.url.replace("127.0.0.1", "localhost")
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True
    _consent_defaults.seed(apps, None)
    publish("terms")
    publish("privacy")
    row = SocialProvider(
        kind=Kind.OIDC, slug="acme-id", name="Acme ID", issuer=idp.issuer, enabled=True
    )
    row.client_id, secret = idp.register_client(f"{url}{callback_path(row)}", "client_secret_post")
    services.save_provider(actor=None, row=row, client_secret=secret)

    page = new_page(browser)
    page.goto(f"{url}/accounts/signup/")
    page.get_by_role("button", name="Continue with Acme ID").click()
    # At the provider: it has no sign-in form of its own (its interaction answers JSON), so the
    # browser's own request context signs in, with the browser's cookies.
    page.wait_for_url(f"{idp.issuer}/interaction/**")
    uid = urlsplit(page.url).path.rsplit("/", 1)[1]
    answer = page.request.post(
        f"{idp.issuer}/interaction/{uid}/login", form={"login": "new-sub"}, max_redirects=0
    )
    page.goto(urljoin(idp.issuer, answer.headers["location"]))
    page.wait_for_url(f"{url}/accounts/3rdparty/signup/")
    assert page.input_value("#id_email") == "newcomer@example.com"
    page.check("#id_consent_terms")
    page.check("#id_consent_privacy")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(f"{url}/account/")
    page.wait_for_load_state("networkidle")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "social-signed-up.png"), full_page=True)

    user = User.objects.get(email="newcomer@example.com")
    assert "newcomer@example.com" in page.content()
    assert SocialAccount.objects.get(user=user).provider == "social.acme-id"
