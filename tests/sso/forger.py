"""An OpenID provider the test controls, to send ID tokens no certified provider would mint.

oidc-provider will not sign a token with the wrong nonce, issuer or audience, ``alg: none`` or a
key it does not publish. This small provider (stdlib HTTP server in a thread, PyJWT) plays the
protocol's outline honestly (discovery, authorize, token with a PKCE check, JWKS, userinfo) and
spoils the next ID token the way ``spoil`` says. Test code only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

GOOD_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
FOREIGN_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _public_jwk(key: Any, kid: str, alg: str) -> dict:
    family = jwt.algorithms.ECAlgorithm if alg.startswith("ES") else jwt.algorithms.RSAAlgorithm
    jwk = json.loads(family.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": alg}


class Forger:
    """``spoil`` keys: ``claims`` (merged into the ID token), ``drop`` (claims removed),
    ``sign`` ("good", "none", "foreign", "hs256-public-pem"), ``kid``, ``doc_issuer`` (the
    discovery document's issuer), ``userinfo`` (merged into the userinfo answer).
    ``jwks_requests`` counts the requests for its key set."""

    def __init__(self) -> None:
        self.claims: dict[str, Any] = {}
        self.key: Any = GOOD_KEY
        self.kid = "good"
        self.alg = "RS256"
        self.spoil: dict[str, Any] = {}
        self.authorize_requests: list[dict] = []
        self.jwks_requests = 0
        self._lock = threading.Lock()
        self._codes: dict[str, dict] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.discovery_url = f"{self.issuer}/.well-known/openid-configuration"

    def start(self) -> Forger:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self, **claims: Any) -> None:
        self.claims = {"sub": "forged-sub", "email": "eve@acme.test", **claims}
        self.key, self.kid, self.alg = GOOD_KEY, "good", "RS256"
        self.spoil = {}
        self.authorize_requests = []
        self.jwks_requests = 0

    def rotate(self, alg: str = "RS256") -> None:
        """Sign with a new key under a new kid, and publish only that one (an IdP rotation)."""
        if alg.startswith("ES"):
            self.key = ec.generate_private_key(ec.SECP256R1())
        else:
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = f"rotated-{secrets.token_hex(4)}"
        self.alg = alg

    def discovery(self) -> dict:
        return {
            "issuer": self.spoil.get("doc_issuer", self.issuer),
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "id_token_signing_alg_values_supported": [self.alg],
            "code_challenge_methods_supported": ["S256"],
        }

    def id_token(self, auth: dict) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": auth.get("client_id"), "iat": now, "exp": now + 300}
        claims.update(self.claims)
        if auth.get("nonce"):
            claims["nonce"] = auth["nonce"]
        claims.update(self.spoil.get("claims", {}))
        for name in self.spoil.get("drop", []):
            claims.pop(name, None)
        headers = {"kid": self.spoil.get("kid", self.kid)}
        sign = self.spoil.get("sign", "good")
        if sign == "none":
            return jwt.encode(claims, "", algorithm="none", headers=headers)  # "": no key
        if sign == "foreign":
            return jwt.encode(claims, FOREIGN_KEY, algorithm="RS256", headers=headers)
        if sign == "hs256-public-pem":
            # Algorithm confusion: an HMAC keyed with the provider's *public* key, which anyone
            # can download. PyJWT refuses to make one, so it is built by hand.
            pem = self.key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            header = {"alg": "HS256", "typ": "JWT", **headers}
            signing_input = (
                _b64(json.dumps(header).encode()) + b"." + _b64(json.dumps(claims).encode())
            )
            signature = _b64(hmac.new(pem, signing_input, hashlib.sha256).digest())
            return (signing_input + b"." + signature).decode()
        return jwt.encode(claims, self.key, algorithm=self.alg, headers=headers)

    def userinfo(self) -> dict:
        return {**self.claims, **self.spoil.get("userinfo", {})}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        forger = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, body: Any, status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/.well-known/openid-configuration":
                    return self._json(forger.discovery())
                if url.path == "/jwks":
                    with forger._lock:
                        forger.jwks_requests += 1
                    jwk = _public_jwk(forger.key, forger.kid, forger.alg)
                    return self._json({"keys": [jwk]})
                if url.path == "/userinfo":
                    return self._json(forger.userinfo())
                if url.path == "/authorize":
                    query = {k: v[0] for k, v in parse_qs(url.query).items()}
                    forger.authorize_requests.append(query)
                    code = secrets.token_urlsafe(16)
                    forger._codes[code] = query
                    back = {"code": code, "state": query.get("state", "")}
                    self.send_response(302)
                    self.send_header("location", f"{query['redirect_uri']}?{urlencode(back)}")
                    self.end_headers()
                    return None
                return self._json({"error": "not_found"}, 404)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                auth = forger._codes.pop(form.get("code", ""), None)
                if auth is None:
                    return self._json({"error": "invalid_grant"}, 400)
                challenge = _b64(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
                if challenge.decode() != auth.get("code_challenge"):
                    return self._json({"error": "invalid_grant", "error_description": "pkce"}, 400)
                return self._json(
                    {
                        "access_token": secrets.token_urlsafe(16),
                        "token_type": "Bearer",
                        "expires_in": 300,
                        "id_token": forger.id_token(auth),
                    }
                )

        return Handler
