from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client

from tests.sso.oidc_idp import LoopbackIdP

CLIENT_ID = "gatehouse-acme"
CLIENT_SECRET = "a-test-client-secret-of-decent-length"  # noqa: S105
CALLBACK = "http://testserver/accounts/oidc/acme-oidc/login/callback/"
ACCOUNTS = {
    "alice-sub": {"email": "alice@acme.test", "email_verified": True, "name": "Alice Example",
                  "groups": ["engineering"]},
    "mallory-sub": {"email": "mallory@elsewhere.test", "email_verified": True, "name": "Mallory"},
}


@pytest.fixture(scope="session")
def idp():
    server = LoopbackIdP(
        clients=[{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                  "redirect_uris": [CALLBACK]}],
        accounts=ACCOUNTS,
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def connection(idp, settings):
    conn = {
        "provider_id": "acme-oidc",
        "name": "Acme SSO",
        "client_id": CLIENT_ID,
        "secret": CLIENT_SECRET,
        "server_url": idp.issuer,
        "issuer": idp.issuer,
        "verified_domains": ["acme.test"],
    }
    settings.LAB_OIDC_CONNECTIONS = [conn]
    return conn


def sso_login(idp, client: Client, provider_id: str = "acme-oidc", login: str | None = "alice-sub",
              **extra):
    """Drive a whole login: Gatehouse → IdP (sign in as `login`) → Gatehouse callback."""
    start = client.post(f"/accounts/oidc/{provider_id}/login/")
    assert start.status_code == 302, start.content[:500]
    back = idp.authorize(start["Location"], login, **extra)
    parts = urlsplit(back)
    assert parts.netloc == "testserver", back
    return start, client.get(f"{parts.path}?{parts.query}")
