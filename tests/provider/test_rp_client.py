"""The certified relying party: openid-client 6 (tests/provider/rp/rp.mjs) against Gatehouse
on a live server. openid-client discovers the issuer, builds the authorization URL with PKCE,
state and nonce; the test signs a person in with a real browser session (requests) and hands
the callback back; openid-client then checks state, nonce, iss (RFC 9207), the ID token's
signature against the JWKS, and uses userinfo, refresh and revocation.

The issuer is the live server's URL: ``GATEHOUSE_PUBLIC_URL`` (which Gatehouse's discovery,
ID tokens and iss parameter read) and DOT's ``OIDC_ISS_ENDPOINT``, with the oauthlib core
rebuilt per request so that no server cached with the old issuer answers.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from provider.models import AccessToken, RefreshToken
from provider.services.apis import create_api
from provider.services.applications import create_application
from provider.services.keys import ensure_signing_keys
from tests.accounts.mfa_helpers import enroll_totp, totp_now
from tests.conftest import require
from tests.factories import DEFAULT_PASSWORD, UserFactory

RP_DIR = Path(__file__).resolve().parent / "rp"
WEB_CALLBACK = "https://rp.example.test/callback"
SPA_CALLBACK = "https://spa.example.test/cb"
BYE = "https://rp.example.test/bye"

pytestmark = pytest.mark.django_db(transaction=True)


class RelyingParty:
    """One openid-client process; ``call`` sends a command and returns its answer."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["node", "rp.mjs"],
            cwd=RP_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read() if self.proc.stderr else "node exited"
        return json.loads(line)  # type: ignore[no-any-return]

    def ok(self, cmd: str, **args: Any) -> dict[str, Any]:
        answer = self.call(cmd, **args)
        assert answer["ok"], answer
        return answer

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def rp() -> Iterator[RelyingParty]:
    require(shutil.which("node") is not None, "node (Node.js 20) for the openid-client tests")
    require(
        (RP_DIR / "node_modules" / "openid-client").is_dir(),
        f"npm package openid-client: run `npm ci` in {RP_DIR}",
    )
    party = RelyingParty()
    yield party
    party.close()


@pytest.fixture
def issuer(live_server, settings) -> str:
    url = str(live_server.url)
    settings.GATEHOUSE_PUBLIC_URL = url
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_ISS_ENDPOINT": url,
        "ALWAYS_RELOAD_OAUTHLIB_CORE": True,
    }
    ensure_signing_keys()
    return url


@pytest.fixture
def person():
    return UserFactory(display_name="Ada Lovelace")


@pytest.fixture
def web_client(issuer):
    return create_application(
        actor=None,
        name="Partner Portal",
        kind="web",
        redirect_uris=[WEB_CALLBACK],
        post_logout_redirect_uris=[BYE],
        allowed_scopes=["openid", "profile", "email", "offline_access"],
        algorithm="ES256",
    )


@pytest.fixture
def spa_client(issuer):
    return create_application(
        actor=None,
        name="Storefront",
        kind="spa",
        redirect_uris=[SPA_CALLBACK],
        allowed_scopes=["openid", "email", "offline_access"],
        first_party=True,
    )


class Browser:
    """A person's browser against the live server: cookies, CSRF tokens, no redirects
    followed beyond Gatehouse's own pages."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()

    def csrf(self, html: str) -> str:
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert found, html[:500]
        return found.group(1)

    def log_in(self, email: str, password: str) -> None:
        page = self.session.get(f"{self.base}/accounts/login/", timeout=10)
        response = self.session.post(
            f"{self.base}/accounts/login/",
            {"login": email, "password": password, "csrfmiddlewaretoken": self.csrf(page.text)},
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == 302, response.text[:500]

    def authorize(self, url: str, callback: str, *, allow: bool = True) -> str:
        """Open the authorization URL, consent if asked; the URL the browser is sent back to."""
        response = self.session.get(url, allow_redirects=False, timeout=10)
        if response.status_code == 200 and "consent-form" in response.text:
            response = self.session.post(
                url,
                {
                    "decision": "allow" if allow else "deny",
                    "csrfmiddlewaretoken": self.csrf(response.text),
                },
                allow_redirects=False,
                timeout=10,
            )
        assert response.status_code == 302, response.text[:500]
        location = response.headers["Location"]
        assert location.startswith(callback + "?"), location
        return location


def discover(rp: RelyingParty, issuer: str, registered: Any, **metadata: Any) -> dict[str, Any]:
    return rp.ok(
        "discover",
        issuer=issuer,
        client_id=registered.application.client_id,
        client_secret=registered.client_secret,
        metadata=metadata,
    )["metadata"]


def test_confidential_client_signs_in_with_code_pkce_and_an_es256_id_token(
    rp, issuer, web_client, person
):
    metadata = discover(rp, issuer, web_client, id_token_signed_response_alg="ES256")
    assert metadata["issuer"] == issuer
    browser = Browser(issuer)
    browser.log_in(person.email, DEFAULT_PASSWORD)

    url = rp.ok(
        "authorize_url",
        params={"redirect_uri": WEB_CALLBACK, "scope": "openid profile email offline_access"},
    )["url"]
    callback = browser.authorize(url, WEB_CALLBACK)
    tokens = rp.ok("callback", url=callback)
    claims = tokens["claims"]
    assert claims["sub"] == str(person.public_id)
    assert claims["iss"] == issuer
    assert claims["email"] == person.email
    assert claims["name"] == "Ada Lovelace"
    assert claims["acr"] == "urn:gatehouse:pwd"
    assert claims["amr"] == ["pwd"]
    assert claims["sid"]
    header = json.loads(base64.urlsafe_b64decode(tokens["id_token"].split(".")[0] + "=="))
    assert header["alg"] == "ES256"

    # openid-client checks userinfo's sub against the ID token's itself.
    info = rp.ok("userinfo", access_token=tokens["access_token"], sub=claims["sub"])["claims"]
    assert info["email"] == person.email

    rotated = rp.ok("refresh", refresh_token=tokens["refresh_token"])
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert rotated["claims"]["sub"] == claims["sub"]
    assert rotated["claims"]["sid"] == claims["sid"]

    replay = rp.call("refresh", refresh_token=tokens["refresh_token"])
    assert not replay["ok"]
    assert replay["error"] == "invalid_grant"
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


def test_the_sign_in_asks_for_the_second_factor_between_the_client_and_its_code(
    rp, issuer, web_client, person
):
    device = enroll_totp(person)
    discover(rp, issuer, web_client, id_token_signed_response_alg="ES256")
    browser = Browser(issuer)
    url = rp.ok(
        "authorize_url",
        params={
            "redirect_uri": WEB_CALLBACK,
            "scope": "openid email",
            "acr_values": "urn:gatehouse:mfa",
        },
    )["url"]

    to_login = browser.session.get(url, allow_redirects=False, timeout=10)
    login_url = f"{issuer}{to_login.headers['Location']}"
    page = browser.session.get(login_url, timeout=10)
    to_mfa = browser.session.post(
        login_url,
        {
            "login": person.email,
            "password": DEFAULT_PASSWORD,
            "csrfmiddlewaretoken": browser.csrf(page.text),
        },
        allow_redirects=False,
        timeout=10,
    )
    assert to_mfa.headers["Location"] == "/accounts/2fa/"
    second = browser.session.get(f"{issuer}/accounts/2fa/", timeout=10)
    back = browser.session.post(
        f"{issuer}/accounts/2fa/",
        {
            "kind": "totp",
            "code": totp_now(device),
            "csrfmiddlewaretoken": browser.csrf(second.text),
        },
        allow_redirects=False,
        timeout=10,
    )
    assert back.headers["Location"].startswith("/o/authorize/?")

    callback = browser.authorize(f"{issuer}{back.headers['Location']}", WEB_CALLBACK)
    claims = rp.ok("callback", url=callback)["claims"]
    assert claims["sub"] == str(person.public_id)
    assert claims["acr"] == "urn:gatehouse:mfa"
    assert {"pwd", "otp", "mfa"} <= set(claims["amr"])


def test_public_client_signs_in_refreshes_and_revokes(rp, issuer, spa_client, person):
    discover(rp, issuer, spa_client)
    browser = Browser(issuer)
    browser.log_in(person.email, DEFAULT_PASSWORD)
    url = rp.ok(
        "authorize_url", params={"redirect_uri": SPA_CALLBACK, "scope": "openid offline_access"}
    )["url"]
    tokens = rp.ok("callback", url=browser.authorize(url, SPA_CALLBACK))
    assert tokens["claims"]["sub"] == str(person.public_id)

    rotated = rp.ok("refresh", refresh_token=tokens["refresh_token"])
    rp.ok("revoke", token=rotated["refresh_token"])
    after = rp.call("refresh", refresh_token=rotated["refresh_token"])
    assert not after["ok"]
    assert after["error"] == "invalid_grant"
    unknown = rp.call("userinfo", access_token=rotated["access_token"], sub=tokens["claims"]["sub"])
    assert not unknown["ok"]
    assert unknown["status"] == 401


def test_a_replayed_code_is_refused_and_kills_the_first_tokens(rp, issuer, spa_client, person):
    discover(rp, issuer, spa_client)
    browser = Browser(issuer)
    browser.log_in(person.email, DEFAULT_PASSWORD)
    url = rp.ok("authorize_url", params={"redirect_uri": SPA_CALLBACK, "scope": "openid"})["url"]
    callback = browser.authorize(url, SPA_CALLBACK)
    first = rp.ok("callback", url=callback)
    again = rp.call("callback", url=callback)
    assert not again["ok"]
    assert again["error"] == "invalid_grant"
    assert not AccessToken.objects.exists()
    dead = rp.call("userinfo", access_token=first["access_token"], sub=first["claims"]["sub"])
    assert not dead["ok"]


def test_a_silent_sign_in_without_a_session_reaches_the_client_as_login_required(
    rp, issuer, spa_client
):
    discover(rp, issuer, spa_client)
    url = rp.ok(
        "authorize_url",
        params={"redirect_uri": SPA_CALLBACK, "scope": "openid", "prompt": "none"},
    )["url"]
    callback = Browser(issuer).authorize(url, SPA_CALLBACK)
    answer = rp.call("callback", url=callback)
    # Not "iss missing": the error redirect carries iss, so openid-client reads the error.
    assert not answer["ok"]
    assert answer["error"] == "login_required", answer


def test_a_denied_consent_reaches_the_client_as_access_denied(rp, issuer, web_client, person):
    discover(rp, issuer, web_client, id_token_signed_response_alg="ES256")
    browser = Browser(issuer)
    browser.log_in(person.email, DEFAULT_PASSWORD)
    url = rp.ok("authorize_url", params={"redirect_uri": WEB_CALLBACK, "scope": "openid"})["url"]
    answer = rp.call("callback", url=browser.authorize(url, WEB_CALLBACK, allow=False))
    assert not answer["ok"]
    assert answer["error"] == "access_denied"


def test_the_client_signs_the_person_out_through_the_end_session_url(
    rp, issuer, web_client, person
):
    discover(rp, issuer, web_client, id_token_signed_response_alg="ES256")
    browser = Browser(issuer)
    browser.log_in(person.email, DEFAULT_PASSWORD)
    url = rp.ok("authorize_url", params={"redirect_uri": WEB_CALLBACK, "scope": "openid"})["url"]
    tokens = rp.ok("callback", url=browser.authorize(url, WEB_CALLBACK))
    logout = rp.ok(
        "end_session_url",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": BYE, "state": "z"},
    )["url"]
    assert logout.startswith(issuer + "/o/logout/?")
    response = browser.session.get(logout, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert response.headers["Location"] == BYE + "?state=z"
    account = browser.session.get(f"{issuer}/account/", allow_redirects=False, timeout=10)
    assert account.status_code == 302  # signed out: sent to the login page


def test_the_client_refuses_an_id_token_whose_signature_the_jwks_does_not_verify(
    rp, issuer, web_client, person
):
    """Proves the client really checks signatures (enableNonRepudiationChecks): the JWKS it
    fetches publishes another key under the signing key's kid."""
    from jwcrypto import jwk

    from provider.models import SigningKey

    discover(rp, issuer, web_client, id_token_signed_response_alg="ES256")
    browser = Browser(issuer)
    browser.log_in(person.email, DEFAULT_PASSWORD)
    url = rp.ok("authorize_url", params={"redirect_uri": WEB_CALLBACK, "scope": "openid"})["url"]
    callback = browser.authorize(url, WEB_CALLBACK)
    row = SigningKey.objects.get(alg="ES256", state="active")
    impostor = jwk.JWK.generate(kty="EC", crv="P-256").export_public(as_dict=True)
    SigningKey.objects.filter(pk=row.pk).update(
        public_jwk={**impostor, "kid": row.kid, "alg": "ES256", "use": "sig"}
    )
    answer = rp.call("callback", url=callback)
    assert not answer["ok"]
    assert "signature" in (answer["cause"] or "").lower(), answer


def test_a_backend_gets_a_token_for_its_api_and_the_api_introspects_it(rp, issuer):
    api = create_api(
        actor=None,
        identifier="https://invoices.example.com/",
        name="Invoices",
        scopes={"invoices:read": "Read invoices"},
    )
    backend = create_application(
        actor=None, name="Billing", kind="m2m", apis={api: ["invoices:read"]}
    )
    resource_server = create_application(actor=None, name="Invoices API", kind="m2m")
    api.introspectors.add(resource_server.application)

    discover(rp, issuer, backend)
    tokens = rp.ok("client_credentials", params={"resource": api.identifier})
    assert tokens["scope"] == "invoices:read"
    assert tokens["refresh_token"] is None

    introspector = RelyingParty()
    try:
        discover(introspector, issuer, resource_server)
        answer = introspector.ok("introspect", token=tokens["access_token"])["answer"]
        assert answer["active"] is True
        assert answer["aud"] == api.identifier
        assert answer["client_id"] == backend.application.client_id
        assert answer["scope"] == "invoices:read"
        assert "username" not in answer
        # The backend itself is not a listed introspector: it learns nothing.
        assert rp.ok("introspect", token=tokens["access_token"])["answer"] == {"active": False}
    finally:
        introspector.close()


def test_a_device_signs_in_after_the_person_approves_on_the_device_page(rp, issuer, person):
    tv = create_application(
        actor=None,
        name="Living-room TV",
        kind="native",
        redirect_uris=["http://127.0.0.1/callback"],
        allowed_scopes=["openid", "email"],
    )
    discover(rp, issuer, tv)
    started = rp.ok("device_start", params={"scope": "openid email"})
    assert started["verification_uri"] == f"{issuer}/device"

    browser = Browser(issuer)
    browser.log_in(person.email, DEFAULT_PASSWORD)
    page = browser.session.get(started["verification_uri_complete"], timeout=10)
    confirm = browser.session.post(
        f"{issuer}/device",
        {"user_code": started["user_code"], "csrfmiddlewaretoken": browser.csrf(page.text)},
        timeout=10,
    )
    assert "Living-room TV" in confirm.text
    done = browser.session.post(
        f"{issuer}/device",
        {
            "user_code": started["user_code"],
            "decision": "allow",
            "csrfmiddlewaretoken": browser.csrf(confirm.text),
        },
        timeout=10,
    )
    assert "Device connected" in done.text

    tokens = rp.ok("device_poll")
    assert tokens["scope"] == "openid email"
    # oauthlib's device grant issues no ID token; the device learns who signed in from
    # userinfo, which openid-client checks against the expected subject.
    claims = rp.ok("userinfo", access_token=tokens["access_token"], sub=str(person.public_id))[
        "claims"
    ]
    assert claims["email"] == person.email
