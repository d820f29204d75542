"""Forged ID tokens through a generic OpenID provider row, from a provider the test controls
(tests/sso/forger.py): each is refused by the check SSO's processor names, on the record as
``social.login_failed``, with nobody signed in and nothing created."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount

from accounts.models import User
from audit.models import AuditEvent
from social import services
from social.models import Kind, SocialProvider
from tests.social.conftest import session_user, start
from tests.sso.forger import Forger

FORGED: dict[str, tuple[dict[str, Any], str]] = {
    "wrong_nonce": ({"claims": {"nonce": "not-the-one-we-sent"}}, "nonce"),
    "wrong_issuer": ({"claims": {"iss": "https://evil.test"}}, "issuer"),
    "discovery_names_another_issuer": (
        {"doc_issuer": "https://evil.test", "claims": {"iss": "https://evil.test"}},
        "issuer",
    ),
    "wrong_audience": ({"claims": {"aud": "someone-else"}}, "audience"),
    "expired": ({"claims": {"exp": 1_000_000_000, "iat": 999_999_000}}, "expired"),
    "alg_none": ({"sign": "none"}, "algorithm"),
    "foreign_key": ({"sign": "foreign"}, "signature"),
    "hs256_keyed_with_the_public_key": ({"sign": "hs256-public-pem"}, "algorithm"),
    "userinfo_about_someone_else": ({"userinfo": {"sub": "someone-else"}}, "userinfo_subject"),
}


@pytest.fixture(scope="module")
def forger_server() -> Iterator[Forger]:
    forger = Forger().start()
    yield forger
    forger.stop()


@pytest.fixture
def forged(social_env, forger_server) -> SocialProvider:
    forger_server.reset(email="eve@example.com", email_verified=True)
    row = SocialProvider(
        kind=Kind.OIDC,
        slug="forged",
        name="Forged",
        client_id="forger-client",
        issuer=forger_server.issuer,
        enabled=True,
    )
    return services.save_provider(actor=None, row=row, client_secret="forger-secret")


def forged_login(web, forger: Forger, row: SocialProvider, **spoil: Any):
    forger.spoil = spoil
    begun = start(web, row)
    location = requests.get(begun["Location"], allow_redirects=False, timeout=10).headers[
        "location"
    ]
    back = urlsplit(location)
    return web.get(f"{back.path}?{back.query}")


def test_an_honest_token_gets_to_the_sign_up_form(web, forger_server, forged):
    done = forged_login(web, forger_server, forged)
    assert done.status_code == 302
    assert done["Location"] == "/accounts/3rdparty/signup/"


@pytest.mark.parametrize("case", list(FORGED))
def test_a_forged_id_token_is_refused_on_the_record(case, web, forger_server, forged):
    spoil, check = FORGED[case]

    done = forged_login(web, forger_server, forged, **spoil)

    assert done.status_code == 403
    assert session_user(web) is None
    assert not User.objects.filter(email="eve@example.com").exists()
    assert not SocialAccount.objects.exists()
    event = AuditEvent.objects.get(action="social.login_failed")
    assert event.data["check"] == check
    assert event.data["provider"] == "forged"
    assert not AuditEvent.objects.filter(action="sso.login_failed").exists()
