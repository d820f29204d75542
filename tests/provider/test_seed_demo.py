"""``make run``'s demo app, and the demo client it tells a newcomer to run: a real sign-in with
code + PKCE against a live server, the code caught on loopback, the ID token checked with the
JWKS; and the sample web app's binding of a sign-in to the browser that started it."""

from __future__ import annotations

import io
import re
import urllib.request

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from provider import demo_client
from provider.demo import DEMO_APP_NAME, DEMO_REDIRECT_URI
from provider.demo_app import STATE_COOKIE, SampleApp
from provider.models import AccessToken, Application, Grant, IDToken, KeyState, SigningKey
from tests.factories import UserFactory


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_makes_the_demo_app_and_keys_once_and_says_how_to_sign_in():
    first, second = seed(), seed()

    app = Application.objects.get(name=DEMO_APP_NAME)
    assert app.kind == "native"
    assert app.first_party
    assert app.redirect_uris == DEMO_REDIRECT_URI
    assert app.secret_digest == ""  # a public client: PKCE, no secret
    assert set(SigningKey.objects.filter(state=KeyState.ACTIVE).values_list("alg", flat=True)) == {
        "RS256",
        "ES256",
    }
    assert SigningKey.objects.count() == 2
    for text in (first, second):
        command = re.search(r"^\s+(\.venv/bin/python -m provider\.demo_client .*)$", text, re.M)
        assert command, text
        assert f"--client-id {app.client_id}" in command.group(1)
        assert f"--issuer {settings.GATEHOUSE_PUBLIC_URL}" in command.group(1)
        assert (
            f"-m provider.demo_app --issuer {settings.GATEHOUSE_PUBLIC_URL} "
            f"--client-id {app.client_id}"
        ) in text


@pytest.mark.django_db(transaction=True)
def test_the_demo_client_signs_in_against_a_live_server(live_server):
    seed()
    app = Application.objects.get(name=DEMO_APP_NAME)
    person = UserFactory(email="grace@example.com")
    issuer = settings.OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"]
    base = live_server.url
    endpoints = demo_client.Endpoints(
        authorization=base + "/o/authorize/",
        token=base + "/o/token/",
        jwks=base + "/o/.well-known/jwks.json",
    )
    # Port 0: any free port. The app registered 127.0.0.1:8765, and a loopback redirect
    # matches on any port (RFC 8252 7.3).
    catcher = demo_client.CallbackCatcher(port=0)
    pending = demo_client.start(endpoints, app.client_id, catcher.redirect_uri)

    # The browser: signed in, it follows the authorization URL, then the redirect back.
    browser = Client()
    browser.force_login(person)
    response = browser.get(pending.url.removeprefix(base))
    assert response.status_code == 302, response.content[:500]
    assert response["Location"].startswith(catcher.redirect_uri + "?")
    with urllib.request.urlopen(response["Location"], timeout=10) as answer:  # noqa: S310
        assert answer.status == 200
    code = demo_client.code_from(catcher.wait(10), pending, issuer)

    tokens = demo_client.exchange(endpoints, app.client_id, code, pending)
    claims = demo_client.id_token_claims(
        endpoints, issuer, app.client_id, tokens["id_token"], pending.nonce
    )

    assert claims["sub"] == str(person.public_id)
    assert claims["aud"] == app.client_id
    assert claims["iss"] == issuer
    assert claims["nonce"] == pending.nonce
    assert AccessToken.objects.filter(application=app, user=person).count() == 1
    assert IDToken.objects.filter(application=app, user=person).count() == 1
    # The code was single-use: the same exchange again is refused, and nothing more issued.
    with pytest.raises(demo_client.SignInFailed, match="invalid_grant"):
        demo_client.exchange(endpoints, app.client_id, code, pending)
    assert Grant.objects.get(application=app).used_at is not None


def test_the_demo_client_refuses_an_answer_to_another_request_or_from_another_issuer():
    endpoints = demo_client.Endpoints("https://id.example/o/authorize/", "", "")
    pending = demo_client.start(endpoints, "client", "http://127.0.0.1:8765/callback")
    good = f"http://127.0.0.1:8765/callback?code=c&state={pending.state}&iss=https://id.example"
    assert demo_client.code_from(good, pending, "https://id.example") == "c"
    with pytest.raises(demo_client.SignInFailed, match="state"):
        demo_client.code_from(good.replace(pending.state, "forged"), pending, "https://id.example")
    with pytest.raises(demo_client.SignInFailed, match="iss"):
        demo_client.code_from(good, pending, "https://other.example")
    assert "code_challenge_method=S256" in pending.url
    assert pending.verifier not in pending.url


def test_the_sample_app_takes_a_code_only_in_the_browser_that_started_that_sign_in():
    endpoints = demo_client.Endpoints("https://id.example/o/authorize/", "", "")
    app = SampleApp(endpoints, "https://id.example", "client", port=0)
    try:
        first, second = app.login(), app.login()
        [location] = [value for name, value in first.headers if name == "Location"]
        [cookie] = [value for name, value in first.headers if name == "Set-Cookie"]
        state = cookie.split(";")[0].removeprefix(f"{STATE_COOKIE}=")
        assert f"state={state}" in location
        assert "HttpOnly" in cookie
        back = f"/callback?code=c&state={state}&iss=https://id.example"

        # A browser without the cookie (someone else's redirect pasted in) is refused...
        refused = app.callback(back, {})
        assert refused.status == 400
        assert "no sign-in was started in this browser" in refused.body
        # ...and so is the answer to this browser's other sign-in.
        [other] = [v for n, v in second.headers if n == "Set-Cookie"]
        crossed = app.callback(back, {STATE_COOKIE: other.split(";")[0].split("=", 1)[1]})
        assert crossed.status == 400
        assert "state does not match" in crossed.body
        # An error Gatehouse sends back reaches the page as it came.
        denied = app.callback(
            f"/callback?error=access_denied&state={state}&iss=https://id.example",
            {STATE_COOKIE: state},
        )
        assert denied.status == 400
        assert "access_denied" in denied.body
        # The state was spent on that answer: the same cookie again starts nothing.
        assert "no sign-in was started" in app.callback(back, {STATE_COOKIE: state}).body
    finally:
        app.server.server_close()
