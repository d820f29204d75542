"""GitHub sign-in against a loopback GitHub (OAuth app endpoints and user API): PKCE S256, the
address is GitHub's primary one from /user/emails, trusted only when GitHub marks it verified;
the profile's public email is never used."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount

from accounts.models import User
from audit.models import AuditEvent
from social import services
from tests.factories import UserFactory
from tests.social.conftest import session_user, start

SIGNUP = "/accounts/3rdparty/signup/"


def github_person(github, *, primary_verified: bool = True, public_email: str = "") -> None:
    github.who = {
        "profile": {"id": 4242, "login": "octo", "name": "Octo Cat", "email": public_email},
        "emails": [
            {"email": "other@example.com", "primary": False, "verified": True},
            {"email": "octo@example.com", "primary": True, "verified": primary_verified},
        ],
    }


def round_trip(web, github_row):
    """Start here, be the browser at GitHub (the stand-in signs the person in at once and sends
    the browser back), come back."""
    begun = start(web, github_row)
    answer = requests.get(begun["Location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    back = urlsplit(answer.headers["Location"])
    return begun, web.get(f"{back.path}?{back.query}")


def test_github_sign_up_uses_the_verified_primary_address(web, github, github_row):
    github_person(github, public_email="typed-anything@example.org")

    begun, back = round_trip(web, github_row)

    query = parse_qs(urlsplit(begun["Location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert "user:email" in query["scope"][0]
    assert back["Location"] == SIGNUP
    page = web.get(SIGNUP).content.decode()
    assert 'value="octo@example.com"' in page
    done = web.post(SIGNUP, {"email": "octo@example.com"})
    assert done.status_code == 302
    user = User.objects.get(email="octo@example.com")
    assert session_user(web) == user
    assert EmailAddress.objects.get(user=user).verified
    identity = SocialAccount.objects.get(user=user)
    assert (identity.provider, identity.uid) == ("social.github", "4242")
    assert not User.objects.filter(email="typed-anything@example.org").exists()
    assert AuditEvent.objects.filter(action="social.user_created", actor=user).exists()


def test_an_unverified_primary_address_is_not_trusted(web, github, github_row):
    github_person(github, primary_verified=False)

    round_trip(web, github_row)
    web.post(SIGNUP, {"email": "octo@example.com"})

    user = User.objects.get(email="octo@example.com")
    assert not EmailAddress.objects.get(user=user).verified
    assert session_user(web) is None


def test_a_verified_primary_address_of_an_existing_account_asks_to_sign_in_first(
    web, github, github_row
):
    UserFactory(email="octo@example.com")
    github_person(github)

    _, back = round_trip(web, github_row)

    assert back["Location"] == "/accounts/social/link/"
    assert not SocialAccount.objects.exists()
    assert session_user(web) is None


def test_a_wrong_client_secret_is_refused_on_the_record(web, github, github_row):
    services.save_provider(actor=None, row=github_row, client_secret="not-the-secret")
    github_person(github)

    _, back = round_trip(web, github_row)

    assert back.status_code == 403
    assert session_user(web) is None
    assert AuditEvent.objects.filter(action="social.login_failed", data__provider="github").exists()
