"""A real sign-in through Gatehouse, from the command line: the smallest honest OAuth 2.1 /
OpenID Connect client (authorization code + PKCE S256, state, nonce, the RFC 9207 ``iss``
check, the ID token's signature checked against the JWKS).

``make run`` seeds a demo app (a native app with a loopback redirect, RFC 8252) and prints::

    .venv/bin/python -m provider.demo_client --client-id <its client id>

which opens the sign-in page in a browser, catches the redirect on http://127.0.0.1:8765/,
exchanges the code and prints the ID token's claims. Only the standard library and jwcrypto
(already one of Gatehouse's dependencies) are used, so it reads as a recipe for any app.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import secrets
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import webbrowser
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

DEFAULT_ISSUER = "http://localhost:8000"
DEFAULT_PORT = 8765
CALLBACK_PATH = "/callback"


@dataclass(frozen=True)
class Pending:
    """One sign-in under way: what was sent, to check what comes back."""

    url: str
    state: str
    nonce: str
    verifier: str
    redirect_uri: str


@dataclass
class Endpoints:
    authorization: str
    token: str
    jwks: str

    @classmethod
    def of(cls, issuer: str) -> Endpoints:
        """From the issuer's discovery document when it serves one, else Gatehouse's paths."""
        try:
            with urllib.request.urlopen(  # noqa: S310 - the issuer is http(s) by construction
                issuer + "/.well-known/openid-configuration", timeout=10
            ) as response:
                meta = json.load(response)
            return cls(meta["authorization_endpoint"], meta["token_endpoint"], meta["jwks_uri"])
        except (urllib.error.URLError, KeyError, ValueError):
            return cls(
                issuer + "/o/authorize/", issuer + "/o/token/", issuer + "/o/.well-known/jwks.json"
            )


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def start(
    endpoints: Endpoints, client_id: str, redirect_uri: str, scope: str = "openid profile email"
) -> Pending:
    """The authorization URL to open, with a fresh PKCE verifier, state and nonce."""
    verifier = _b64url(secrets.token_bytes(32))
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": _b64url(hashlib.sha256(verifier.encode()).digest()),
            "code_challenge_method": "S256",
        }
    )
    return Pending(endpoints.authorization + "?" + query, state, nonce, verifier, redirect_uri)


class SignInFailed(Exception):
    pass


def code_from(callback_url: str, pending: Pending, issuer: str) -> str:
    """The authorization code of the redirect back, after checking it answers *this* request
    (state) from *this* server (RFC 9207 iss), or the error the server sent."""
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback_url).query))
    if params.get("state") != pending.state:
        raise SignInFailed("state does not match: not the answer to this sign-in")
    if "iss" in params and params["iss"] != issuer:
        raise SignInFailed(f"iss is {params['iss']!r}, not {issuer!r} (mix-up attack?)")
    if "error" in params:
        raise SignInFailed(f"{params['error']}: {params.get('error_description', '')}")
    if not params.get("code"):
        raise SignInFailed("no code in the redirect")
    return params["code"]


def exchange(endpoints: Endpoints, client_id: str, code: str, pending: Pending) -> dict[str, Any]:
    """The token response for ``code``: a public client proves itself with the PKCE verifier."""
    body = urllib.parse.urlencode(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending.redirect_uri,
            "client_id": client_id,
            "code_verifier": pending.verifier,
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - http(s) endpoint from the issuer
        endpoints.token,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return dict(json.load(response))
    except urllib.error.HTTPError as error:
        raise SignInFailed(f"token endpoint said {error.code}: {error.read().decode()}") from None


def id_token_claims(
    endpoints: Endpoints, issuer: str, client_id: str, id_token: str, nonce: str
) -> dict[str, Any]:
    """The ID token's claims, once its signature (by a key of the JWKS), issuer, audience,
    expiry and nonce are checked."""
    from jwcrypto import jwk, jwt

    with urllib.request.urlopen(endpoints.jwks, timeout=10) as response:  # noqa: S310
        keyset = jwk.JWKSet.from_json(response.read())
    token = jwt.JWT(
        jwt=id_token,
        key=keyset,
        algs=["RS256", "ES256"],
        check_claims={"iss": issuer, "aud": client_id, "exp": None},
    )
    claims: dict[str, Any] = json.loads(token.claims)
    if claims.get("nonce") != nonce:
        raise SignInFailed("nonce does not match: a replayed ID token?")
    return claims


@dataclass
class CallbackCatcher:
    """A one-shot HTTP server on 127.0.0.1 that waits for the browser's redirect back."""

    port: int = DEFAULT_PORT
    received: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if not self.path.startswith(CALLBACK_PATH):
                    self.send_error(404)
                    return
                catcher.received.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.end_headers()
                self.wfile.write(b"Signed in. You can close this tab and go back to the terminal.")
                catcher.done.set()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = HTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}{CALLBACK_PATH}"

    def wait(self, timeout: float) -> str:
        try:
            if not self.done.wait(timeout):
                raise SignInFailed(f"no redirect back within {timeout:.0f} s")
            return "http://127.0.0.1" + self.received[0]
        finally:
            self.server.shutdown()
            self.server.server_close()


def sign_in(
    issuer: str, client_id: str, *, port: int = DEFAULT_PORT, timeout: float = 300
) -> dict[str, Any]:
    endpoints = Endpoints.of(issuer)
    catcher = CallbackCatcher(port)
    pending = start(endpoints, client_id, catcher.redirect_uri)
    print(f"Opening {pending.url}\n(open it yourself if no browser appears)\n", flush=True)
    webbrowser.open(pending.url)
    code = code_from(catcher.wait(timeout), pending, issuer)
    tokens = exchange(endpoints, client_id, code, pending)
    return id_token_claims(endpoints, issuer, client_id, tokens["id_token"], pending.nonce)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--issuer", default=DEFAULT_ISSUER)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    try:
        claims = sign_in(args.issuer.rstrip("/"), args.client_id, port=args.port)
    except SignInFailed as failure:
        print(f"Sign-in failed: {failure}", file=sys.stderr)
        return 1
    print("The ID token checked out. Its claims:")
    print(json.dumps(claims, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
