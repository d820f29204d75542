"""The real identity providers the SSO tests talk to, each a node process on 127.0.0.1.

``SamlIdP`` runs samlify (tests/sso/idp/saml_idp.js), ``OidcIdP`` runs oidc-provider
(tests/sso/idp/oidc_idp.mjs). Both bind port 0 themselves and print where they listen once they
are ready (no free-port race, no polling), and both exit when the test process closes their
stdin, so a crashed test run leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import json
import select
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

IDP_DIR = Path(__file__).resolve().parent / "idp"


def node_ready() -> tuple[bool, str]:
    """Whether node and the pinned npm packages are here (``npm ci`` in tests/sso/idp)."""
    if shutil.which("node") is None:
        return False, "node (Node.js 20) for the loopback SAML and OIDC identity providers"
    for package in ("samlify", "oidc-provider"):
        if not (IDP_DIR / "node_modules" / package).is_dir():
            return False, f"npm package {package}: run `npm ci` in {IDP_DIR}"
    return True, ""


def _start(args: list[str], *, attempts: int = 2) -> tuple[subprocess.Popen, dict]:
    """Start a node peer and wait for the line it prints once it listens. A peer that says
    nothing within STARTUP_SECONDS is killed and started again (once seen: node hung before
    listening, and the suite waited on it for ever)."""
    for attempt in range(1, attempts + 1):
        proc = subprocess.Popen(
            ["node", *args],
            cwd=IDP_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # oidc-provider warns about Node 20; nothing to act on
            text=True,
        )
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], STARTUP_SECONDS)
        line = proc.stdout.readline() if ready else ""  # EOF too: node died
        if line:
            return proc, json.loads(line)
        _stop(proc)
        if attempt == attempts:
            raise RuntimeError(f"the identity provider {args[0]} did not start")
    raise AssertionError("unreachable")


STARTUP_SECONDS = 30


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def self_signed(common_name: str) -> tuple[str, str]:
    """(certificate PEM, private key PEM) for a test IdP signing key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


class SamlIdP:
    """samlify as a SAML IdP. Keys: ``idp`` (its signing key), ``idp2`` (the next one, for
    rotation) and ``attacker`` (a key nobody trusts)."""

    KEYS = ("idp", "idp2", "attacker")

    def __init__(self, keys_dir: Path) -> None:
        keys_dir.mkdir(parents=True, exist_ok=True)
        for name in self.KEYS:
            cert, key = self_signed(f"{name}.idp.test")
            (keys_dir / f"{name}.crt").write_text(cert)
            (keys_dir / f"{name}.key").write_text(key)
        self.keys_dir = keys_dir
        self.proc, hello = _start(["saml_idp.js", str(keys_dir)])
        self.base = f"http://127.0.0.1:{hello['port']}"
        self.entity_id: str = hello["entityId"]
        self.sso_url = f"{self.base}/sso"
        self.slo_url = f"{self.base}/slo"

    def close(self) -> None:
        _stop(self.proc)

    def cert(self, name: str = "idp") -> str:
        return (self.keys_dir / f"{name}.crt").read_text()

    def metadata(self, certs: str = "idp") -> bytes:
        response = requests.get(f"{self.base}/metadata", params={"certs": certs}, timeout=10)
        response.raise_for_status()
        return response.content

    def register_sp(self, metadata_xml: bytes) -> str:
        response = requests.post(f"{self.base}/sp", data=metadata_xml, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["entityID"]

    def answer(self, authn_redirect: str, **params: str) -> dict[str, Any]:
        """What the IdP's page would POST to the SP in answer to our AuthnRequest."""
        assert authn_redirect.startswith(self.sso_url + "?"), authn_redirect
        response = requests.get(f"{authn_redirect}&{urlencode(params)}", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def unsolicited(self, sp_entity_id: str, **params: str) -> dict[str, Any]:
        response = requests.get(
            f"{self.base}/idp-initiated", params={"sp": sp_entity_id, **params}, timeout=10
        )
        assert response.status_code == 200, response.text
        return response.json()

    def logout_request(self, sp_entity_id: str, user: str) -> str:
        """A signed LogoutRequest (HTTP-Redirect binding) for the SP's SLS: the full URL."""
        response = requests.get(
            f"{self.base}/logout-request", params={"sp": sp_entity_id, "user": user}, timeout=10
        )
        assert response.status_code == 200, response.text
        return response.json()["url"]


class OidcIdP:
    """oidc-provider as an OpenID provider. Clients register themselves (dynamic registration),
    so each connection gets its own client with its own redirect URI."""

    def __init__(self, accounts: dict[str, dict]) -> None:
        self.proc, hello = _start(["oidc_idp.mjs", json.dumps({"accounts": accounts})])
        self.issuer: str = hello["issuer"]
        self.discovery_url = f"{self.issuer}/.well-known/openid-configuration"

    def close(self) -> None:
        _stop(self.proc)

    def register_client(
        self, redirect_uri: str, auth_method: str = "client_secret_basic"
    ) -> tuple[str, str]:
        response = requests.post(
            f"{self.issuer}/reg",
            json={
                "redirect_uris": [redirect_uri],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": auth_method,
            },
            timeout=10,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return body["client_id"], body["client_secret"]

    def set_account(self, sub: str, claims: dict) -> None:
        response = requests.put(f"{self.issuer}/__test/accounts/{sub}", json=claims, timeout=10)
        assert response.status_code == 204, response.text

    def jwks_requests(self) -> int:
        """How many times its key set (jwks_uri) has been fetched since it started."""
        response = requests.get(f"{self.issuer}/__test/hits", timeout=10)
        response.raise_for_status()
        return int(response.json()["jwks"])

    def authorize(self, authorize_url: str, login: str | None, **extra: str) -> str:
        """Be the browser at the IdP: sign in as ``login`` (or cancel when None) and return the
        URL the IdP sends the browser back to."""
        browser = requests.Session()
        url = authorize_url
        for _ in range(10):
            response = browser.get(url, allow_redirects=False, timeout=10)
            assert response.status_code in (302, 303), f"{response.status_code}: {response.text}"
            url = urljoin(url, response.headers["location"])
            if not url.startswith(self.issuer):
                return url
            if urlsplit(url).path.startswith("/interaction/"):
                assert browser.get(url, timeout=10).json()["prompt"] == "login"
                response = browser.post(
                    f"{url}/{'login' if login else 'abort'}",
                    data={"login": login or "", **extra},
                    allow_redirects=False,
                    timeout=10,
                )
                url = urljoin(url, response.headers["location"])
        raise AssertionError("too many redirects at the IdP")
