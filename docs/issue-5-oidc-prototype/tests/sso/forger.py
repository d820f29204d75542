"""A test-controlled OpenID provider that answers with forged ID tokens.

The real oidc-provider is certified and will not mint a token with the wrong nonce, issuer or
audience, an `alg: none` header or a foreign key. This tiny provider does the protocol's
outline (discovery, authorize, token with PKCE check, JWKS, userinfo) and lets each test say
how the next ID token is to be spoiled. Test code only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

GOOD_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_jwk(key: Any, kid: str) -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


class Forger:
    def __init__(self, *, client_id: str, sub: str = "forged-sub", email: str = "eve@acme.test"):
        self.client_id = client_id
        self.claims = {"sub": sub, "email": email, "email_verified": True}
        self.spoil: dict[str, Any] = {}
        self.codes: dict[str, dict] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Forger:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # What the token endpoint answers, given what the authorize request carried.
    def id_token(self, auth: dict) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 300,
                  **self.claims}
        if auth.get("nonce"):
            claims["nonce"] = auth["nonce"]
        claims.update(self.spoil.get("claims", {}))
        for name in self.spoil.get("drop", []):
            claims.pop(name, None)
        sign = self.spoil.get("sign", "good")
        headers = {"kid": self.spoil.get("kid", "good")}
        if sign == "none":
            return jwt.encode(claims, None, algorithm="none", headers=headers)
        if sign == "other":
            return jwt.encode(claims, OTHER_KEY, algorithm="RS256", headers=headers)
        if sign == "hs256-public-pem":  # algorithm confusion: HMAC keyed with the public key
            pem = GOOD_KEY.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            header = {"alg": "HS256", "typ": "JWT", **headers}
            seg = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=")  # noqa: E731
            signing_input = seg(header) + b"." + seg(claims)
            import hmac
            sig = base64.urlsafe_b64encode(
                hmac.new(pem, signing_input, hashlib.sha256).digest()).rstrip(b"=")
            return (signing_input + b"." + sig).decode()
        return jwt.encode(claims, GOOD_KEY, algorithm="RS256", headers=headers)

    def _handler(self):
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
                    base = forger.issuer
                    return self._json({
                        "issuer": forger.spoil.get("doc_issuer", base),
                        "authorization_endpoint": base + "/authorize",
                        "token_endpoint": base + "/token",
                        "jwks_uri": base + "/jwks",
                        "userinfo_endpoint": base + "/userinfo",
                        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                        "code_challenge_methods_supported": ["S256"],
                    })
                if url.path == "/jwks":
                    return self._json({"keys": [_public_jwk(GOOD_KEY, "good")]})
                if url.path == "/userinfo":
                    return self._json({**forger.claims, **forger.spoil.get("userinfo", {})})
                if url.path == "/authorize":
                    q = {k: v[0] for k, v in parse_qs(url.query).items()}
                    code = secrets.token_urlsafe(16)
                    forger.codes[code] = q
                    location = q["redirect_uri"] + "?" + urlencode({"code": code,
                                                                     "state": q.get("state", "")})
                    self.send_response(302)
                    self.send_header("location", location)
                    self.end_headers()
                    return None
                return self._json({"error": "not_found"}, 404)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                auth = forger.codes.pop(form.get("code", ""), None)
                if auth is None:
                    return self._json({"error": "invalid_grant"}, 400)
                verifier = form.get("code_verifier", "")
                challenge = base64.urlsafe_b64encode(
                    hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if auth.get("code_challenge") and challenge != auth["code_challenge"]:
                    return self._json({"error": "invalid_grant", "error_description": "pkce"}, 400)
                return self._json({"access_token": secrets.token_urlsafe(16),
                                   "token_type": "Bearer", "expires_in": 300,
                                   "id_token": forger.id_token(auth)})

        return Handler
