"""Social login fixtures: the real OpenID provider (npm oidc-provider) standing in for Google,
Microsoft, Apple and any OpenID provider, a loopback GitHub, and provider rows set up the way
staff set them up (social.services)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.test import Client

from accounts.models import User
from social import services
from social.models import Kind, SocialProvider
from social.templatetags.social_login import callback_path, login_path
from tests.conftest import require
from tests.social.github_standin import GitHubStandIn
from tests.sso.peers import OidcIdP, _start, _stop, node_ready

HOST = "id.gatehouse.test"

# The people the OpenID stand-in knows: Google-like (email_verified), Microsoft-like (tid, no
# email_verified), and unverified ones.
ACCOUNTS: dict[str, dict] = {
    "new-sub": {"email": "newcomer@example.com", "email_verified": True, "name": "New Comer"},
    "ada-sub": {"email": "ada@example.com", "email_verified": True, "name": "Ada Lovelace"},
    "mallory-sub": {"email": "ada@example.com", "email_verified": False, "name": "Mallory"},
    "fresh-unverified-sub": {"email": "fresh@example.com", "email_verified": False},
    "ms-sub": {
        "email": "grace@contoso.example",
        "name": "Grace Hopper",
        "tid": "9188040d-6c67-4c5b-b112-36a304b66dad",
    },
}

_consent_defaults = importlib.import_module("consent.migrations.0003_default_purposes")


class SocialIdP(OidcIdP):
    """oidc-provider with the openid scope carrying Microsoft's ``tid`` too."""

    def __init__(self) -> None:
        self.proc, hello = _start(
            ["oidc_idp.mjs", json.dumps({"accounts": ACCOUNTS, "extraOpenidClaims": ["tid"]})]
        )
        self.issuer = hello["issuer"]
        self.discovery_url = f"{self.issuer}/.well-known/openid-configuration"

    def close(self) -> None:
        _stop(self.proc)


@pytest.fixture(scope="session")
def idp() -> Iterator[SocialIdP]:
    ready, reason = node_ready()
    require(ready, reason)
    peer = SocialIdP()
    yield peer
    peer.close()


@pytest.fixture(scope="session")
def github() -> Iterator[GitHubStandIn]:
    standin = GitHubStandIn("gh-client", "gh-secret")
    yield standin
    standin.close()


@pytest.fixture
def social_env(settings, idp, github):
    """The peers listen on http://127.0.0.1 (refused outside tests); the fixed hosts of Google,
    Microsoft, Apple and GitHub are replaced by them (only while loopback is allowed)."""
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]
    settings.SOCIAL_LOGIN_TEST_ENDPOINTS = {
        "google": idp.issuer,
        "microsoft": idp.issuer,
        "apple": idp.issuer,
        "github": github.url,
    }
    return settings


@pytest.fixture
def purposes():
    _consent_defaults.seed(apps, None)


def browser() -> Client:
    return Client(HTTP_HOST=HOST, HTTP_USER_AGENT="pytest-browser/1.0")


@pytest.fixture
def web(social_env, purposes) -> Client:
    return browser()


def make_provider(idp: SocialIdP | None, kind: str, slug: str, **fields) -> SocialProvider:
    """A provider row, with a client registered at the OpenID stand-in for its redirect URI."""
    row = SocialProvider(kind=kind, slug=slug, name=fields.pop("name", slug.title()), **fields)
    secret = "gh-secret"
    if kind == Kind.GITHUB:
        row.client_id = "gh-client"
    else:
        assert idp is not None
        row.client_id, secret = idp.register_client(
            f"http://{HOST}{callback_path(row)}", auth_method="client_secret_post"
        )
    row.enabled = fields.get("enabled", True)
    return services.save_provider(actor=None, row=row, client_secret=secret)


@pytest.fixture
def google(social_env, idp) -> SocialProvider:
    return make_provider(idp, Kind.GOOGLE, "google", name="Google")


@pytest.fixture
def acme_oidc(social_env, idp) -> SocialProvider:
    return make_provider(idp, Kind.OIDC, "acme-id", name="Acme ID", issuer=idp.issuer)


@pytest.fixture
def microsoft(social_env, idp) -> SocialProvider:
    return make_provider(idp, Kind.MICROSOFT, "microsoft", name="Microsoft", tenant="consumers")


@pytest.fixture
def github_row(social_env) -> SocialProvider:
    return make_provider(None, Kind.GITHUB, "github", name="GitHub")


def start(web: Client, row: SocialProvider, process: str = "login", next_url: str = ""):
    data = {"process": process, **({"next": next_url} if next_url else {})}
    response = web.post(login_path(row), data)
    assert response.status_code == 302, response.content[:1000]
    return response


def sign_in(web: Client, idp: SocialIdP, row: SocialProvider, login: str, **kw):
    """The whole round trip: start here, sign in at the IdP as ``login``, come back."""
    begun = start(web, row, **kw)
    back = urlsplit(idp.authorize(begun["Location"], login))
    return web.get(f"{back.path}?{back.query}")


def session_user(client: Client) -> User | None:
    pk = client.session.get("_auth_user_id")
    return User.objects.get(pk=pk) if pk else None


def consent_boxes() -> dict[str, str]:
    return {"consent_terms": "on", "consent_privacy": "on"}


# --- Sign in with Apple -----------------------------------------------------------------------

APPLE_TEAM = "TEAM123456"
APPLE_KEY_ID = "KEY1234567"


class AppleIdP(OidcIdP):
    """oidc-provider playing Apple: no PKCE, and client secrets that are ES256 JWTs signed with
    the Services ID's key (the stand-in checks them with the public half)."""

    def __init__(self, public_pem: str) -> None:
        config = {
            "accounts": {"apple-sub": {"email": "apple@example.com", "email_verified": "true"}},
            "pkceRequired": False,
            "clientSecretJwt": {
                "publicKey": public_pem,
                "teamId": APPLE_TEAM,
                "keyId": APPLE_KEY_ID,
            },
        }
        self.proc, hello = _start(["oidc_idp.mjs", json.dumps(config)])
        self.issuer = hello["issuer"]
        self.discovery_url = f"{self.issuer}/.well-known/openid-configuration"


@pytest.fixture(scope="session")
def apple_key() -> tuple[str, str]:
    """(private key PEM as Apple's .p8 holds it, public key PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="session")
def apple_idp(apple_key) -> Iterator[AppleIdP]:
    ready, reason = node_ready()
    require(ready, reason)
    peer = AppleIdP(apple_key[1])
    yield peer
    peer.close()


@pytest.fixture
def apple(social_env, apple_idp, apple_key) -> SocialProvider:
    social_env.SOCIAL_LOGIN_TEST_ENDPOINTS = {
        **social_env.SOCIAL_LOGIN_TEST_ENDPOINTS,
        "apple": apple_idp.issuer,
    }
    row = SocialProvider(kind=Kind.APPLE, slug="apple", name="Apple", enabled=True)
    row.client_id, _secret = apple_idp.register_client(
        f"http://{HOST}{callback_path(row)}", auth_method="client_secret_post"
    )
    row.apple_team_id, row.apple_key_id = APPLE_TEAM, APPLE_KEY_ID
    return services.save_provider(actor=None, row=row, apple_private_key=apple_key[0])
