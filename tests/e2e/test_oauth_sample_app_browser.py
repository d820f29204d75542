"""A third-party app signs a person in through Gatehouse, in a real browser: the sample app of
provider/demo_app.py (a native app on a loopback port, code + PKCE, its ID token checked with
the JWKS) sends Chromium to /o/authorize/, the person types their password and their
authenticator's code, allows the app on the consent screen, and the app shows who signed in and
that a second factor was used. The consent is remembered for the next sign-in; a person who
says no sends the app ``access_denied`` and nothing is issued."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings

from accounts.models import User
from provider.demo_app import SampleApp
from provider.demo_client import Endpoints
from provider.models import AccessToken, Application, Authorization, Grant, IDToken, RefreshToken
from provider.services.applications import create_application
from provider.services.keys import ensure_signing_keys
from tests.accounts.mfa_helpers import enroll_totp, totp_now, unused_totp
from tests.e2e.test_mfa_browser import base_url, browser, new_page  # noqa: F401
from tests.e2e.test_signup_browser import OUTPUT
from tests.factories import DEFAULT_PASSWORD, UserFactory

APP_NAME = "Recipe Box"


@pytest.fixture
def sample_app(browser, live_server) -> Iterator[SampleApp]:  # noqa: F811
    """The sample app, registered as a third-party native app (no secret, consent asked), and
    serving on its own loopback port. Chromium reaches Gatehouse as ``localhost`` and the app
    as ``127.0.0.1``: two sites, so neither sees the other's cookies."""
    ensure_signing_keys()
    application = create_application(
        actor=None,
        name=APP_NAME,
        kind="native",
        # A loopback redirect matches on any port (RFC 8252 7.3): the app takes a free one.
        redirect_uris=["http://127.0.0.1/callback"],
        allowed_scopes=["openid", "profile", "email"],
        description="Keeps the recipes you save.",
    ).application
    gatehouse = base_url(live_server)
    endpoints = Endpoints(
        authorization=gatehouse + "/o/authorize/",
        token=gatehouse + "/o/token/",
        jwks=gatehouse + "/o/.well-known/jwks.json",
    )
    issuer = settings.OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"]
    app = SampleApp(endpoints, issuer, application.client_id, port=0).serve_in_background()
    try:
        yield app
    finally:
        app.close()


def application_of(app: SampleApp) -> Application:
    return Application.objects.get(client_id=app.client_id)


def sign_in_with_password(page, person: User) -> None:
    page.wait_for_url("**/accounts/login/**")
    page.fill("#id_login", person.email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.locator("main form button[type=submit]").first.click()


def watch_authorize(page) -> list[int]:
    """The status of every /o/authorize/ response the page gets, in order."""
    statuses: list[int] = []
    page.on(
        "response",
        lambda response: (
            statuses.append(response.status) if "/o/authorize/" in response.url else None
        ),
    )
    return statuses


def issued_to(person: User) -> int:
    return sum(
        model.objects.filter(user=person).count()
        for model in (Grant, AccessToken, RefreshToken, IDToken)
    )


@pytest.mark.browser
def test_a_sample_app_signs_a_person_in_with_a_second_factor_and_consent(
    browser,  # noqa: F811
    live_server,
    sample_app,
):
    gatehouse = base_url(live_server)
    person = UserFactory(email="ada@example.com", display_name="Ada Lovelace")
    device = enroll_totp(person)
    page = new_page(browser)
    authorize_statuses = watch_authorize(page)

    page.goto(sample_app.url + "/")
    page.click("#sign-in")
    sign_in_with_password(page, person)
    page.wait_for_url(f"{gatehouse}/accounts/2fa/")
    page.fill("#code-totp", totp_now(device))
    page.locator("#form-totp button[type=submit]").click()

    page.wait_for_selector("#consent-form")
    assert page.url.startswith(f"{gatehouse}/o/authorize/?")
    assert page.locator("#consent-app").inner_text() == APP_NAME
    assert page.locator("#consent-permissions li").all_inner_texts() == [
        "Know who you are when you sign in",
        "See your name",
        "See your email address",
    ]
    # Signed in, but nothing is granted or issued before the person decides.
    assert not Authorization.objects.filter(user=person).exists()
    assert issued_to(person) == 0
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "oauth-consent.png"), full_page=True)

    page.click("#consent-allow")
    page.wait_for_url(sample_app.url + "/")
    assert page.locator("#claim-sub").inner_text() == str(person.public_id)
    assert page.locator("#claim-email").inner_text() == "ada@example.com"
    assert page.locator("#claim-name").inner_text() == "Ada Lovelace"
    assert page.locator("#claim-email_verified").inner_text() == "true"
    assert page.locator("#claim-acr").inner_text() == "urn:gatehouse:mfa"
    assert set(page.locator("#claim-amr").inner_text().split()) == {"pwd", "otp", "mfa"}
    page.screenshot(path=str(OUTPUT / "oauth-sample-app-signed-in.png"), full_page=True)
    application = application_of(sample_app)
    authorization = Authorization.objects.get(user=person, application=application)
    assert set(authorization.scopes) == {"openid", "profile", "email"}
    assert AccessToken.objects.filter(user=person, application=application).count() == 1

    # The next sign-in: Gatehouse's session and the remembered consent answer at once, with a
    # new code the app exchanges again. No login page, no second factor, no consent screen.
    authorize_statuses.clear()
    page.goto(sample_app.url + "/login")
    assert page.url == sample_app.url + "/"
    assert authorize_statuses == [302]
    assert page.locator("#claim-sub").inner_text() == str(person.public_id)
    assert AccessToken.objects.filter(user=person, application=application).count() == 2

    # Another browser, signed out of Gatehouse: password and second factor again, but the
    # consent was kept with the person, not the browser session, so no consent screen.
    page = new_page(browser)
    authorize_statuses = watch_authorize(page)
    page.goto(sample_app.url + "/login")
    sign_in_with_password(page, person)
    page.wait_for_url(f"{gatehouse}/accounts/2fa/")
    page.fill("#code-totp", unused_totp(device))
    page.locator("#form-totp button[type=submit]").click()
    page.wait_for_url(sample_app.url + "/")
    assert authorize_statuses == [302, 302]  # to the login page, then the code to the app
    assert page.locator("#claim-sub").inner_text() == str(person.public_id)
    assert page.locator("#claim-acr").inner_text() == "urn:gatehouse:mfa"
    assert AccessToken.objects.filter(user=person, application=application).count() == 3
    assert Authorization.objects.filter(user=person).count() == 1


@pytest.mark.browser
def test_a_person_who_says_no_sends_the_sample_app_access_denied_and_nothing_is_issued(
    browser,  # noqa: F811
    live_server,
    sample_app,
):
    gatehouse = base_url(live_server)
    person = UserFactory(email="brook@example.com")
    page = new_page(browser)

    page.goto(sample_app.url + "/login")
    sign_in_with_password(page, person)
    page.wait_for_selector("#consent-form")
    assert page.url.startswith(f"{gatehouse}/o/authorize/?")
    page.click("#consent-deny")

    page.wait_for_url(f"{sample_app.url}/callback?**")
    assert "error=access_denied" in page.url
    assert page.locator("#sign-in-error").inner_text().startswith("access_denied:")
    assert issued_to(person) == 0
    assert not Authorization.objects.filter(user=person).exists()
    # The app did not sign anyone in: its home page still offers the sign-in.
    page.goto(sample_app.url + "/")
    assert page.locator("#sign-in").inner_text() == "Sign in with Gatehouse"
