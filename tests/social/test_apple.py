"""Sign in with Apple against oidc-provider playing Apple: the answer comes back by form post
(handed on as a GET, where the session's state is checked), the client secret is an ES256 JWT
the stand-in verifies, no PKCE, a nonce, and Apple's string "true" for email_verified."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urljoin, urlsplit

import jwt
import requests
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount

from accounts.models import User
from social.allauth_apps import apple_client_secret
from tests.social.conftest import APPLE_KEY_ID, APPLE_TEAM, session_user, start

SIGNUP = "/accounts/3rdparty/signup/"


def form_post_at_apple(idp, authorize_url: str, login: str) -> tuple[str, dict]:
    """Be the browser at the provider: sign in, and return the form it posts back (action and
    fields) with response_mode=form_post."""
    browser = requests.Session()
    url = authorize_url
    for _ in range(10):
        response = browser.get(url, allow_redirects=False, timeout=10)
        if response.status_code == 200 and "<form" in response.text:
            found = re.search(r'action="([^"]+)"', response.text)
            assert found, response.text[:500]
            action = html.unescape(found.group(1))
            fields = {
                html.unescape(name): html.unescape(value)
                for name, value in re.findall(
                    r'<input type="hidden" name="([^"]+)" value="([^"]*)"', response.text
                )
            }
            return action, fields
        assert response.status_code in (302, 303), response.text[:500]
        url = urljoin(url, response.headers["location"])
        if urlsplit(url).path.startswith("/interaction/"):
            response = browser.post(
                f"{url}/login", data={"login": login}, allow_redirects=False, timeout=10
            )
            url = urljoin(url, response.headers["location"])
    raise AssertionError("no form post from the provider")


def test_sign_in_with_apple_by_form_post_creates_a_verified_account(web, apple_idp, apple):
    begun = start(web, apple)
    query = parse_qs(urlsplit(begun["Location"]).query)
    assert query["response_mode"] == ["form_post"]
    assert "code_challenge" not in query
    assert len(query["nonce"][0]) >= 32

    action, fields = form_post_at_apple(apple_idp, begun["Location"], "apple-sub")
    posted = web.post(urlsplit(action).path, fields)

    assert posted.status_code == 303
    back = web.get(posted["Location"])
    assert back.status_code == 302, back.content[:1000]
    assert back["Location"] == SIGNUP
    done = web.post(SIGNUP, {"email": "apple@example.com"})
    assert done.status_code == 302
    user = User.objects.get(email="apple@example.com")
    assert session_user(web) == user
    assert EmailAddress.objects.get(user=user).verified  # Apple's "true"
    assert SocialAccount.objects.get(user=user).uid == "apple-sub"


def test_the_client_secret_is_a_short_lived_es256_jwt_for_apple(apple, apple_key):
    token = apple_client_secret(apple)

    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, apple_key[1], algorithms=["ES256"], audience=apple.configured_issuer)
    assert header["kid"] == APPLE_KEY_ID
    assert claims["iss"] == APPLE_TEAM
    assert claims["sub"] == apple.client_id
    assert 0 < claims["exp"] - claims["iat"] <= 300


def test_a_form_post_without_a_session_of_this_sign_in_is_refused(web, apple_idp, apple):
    begun = start(web, apple)
    action, fields = form_post_at_apple(apple_idp, begun["Location"], "apple-sub")
    thief = web.__class__(HTTP_HOST="id.gatehouse.test")

    posted = thief.post(urlsplit(action).path, fields)
    refused = thief.get(posted["Location"])

    assert refused.status_code == 403
    assert not User.objects.filter(email="apple@example.com").exists()
