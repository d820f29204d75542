"""A loopback stand-in for GitHub's OAuth app endpoints and user API (only what sign-in uses):

- GET  /login/oauth/authorize     signs in as ``who`` (set by the test) and sends the browser back
- POST /login/oauth/access_token  checks the client secret and the PKCE verifier (S256)
- GET  /api/user, /api/user/emails  the person's profile and addresses (``token <access token>``)

It speaks GitHub's shapes: numeric ids, ``verified`` and ``primary`` on each address.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


class GitHubStandIn:
    def __init__(self, client_id: str, client_secret: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.who: dict[str, Any] = {}  # {"profile": {...}, "emails": [...]}
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}
        self.seen_authorize: list[dict] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/login/oauth/authorize":
                    standin.seen_authorize.append(query)
                    code = secrets.token_urlsafe(16)
                    standin.codes[code] = {"query": query, "who": standin.who}
                    back = urlencode({"code": code, "state": query["state"]})
                    target = f"{query['redirect_uri']}?{back}"
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.end_headers()
                    return
                token = (self.headers.get("Authorization") or "").removeprefix("token ")
                grant = standin.tokens.get(token)
                if grant is None:
                    self._send(401, {"message": "Bad credentials"})
                elif url.path == "/api/user":
                    self._send(200, grant["who"]["profile"])
                elif url.path == "/api/user/emails":
                    self._send(200, grant["who"]["emails"])
                else:
                    self._send(404, {"message": "Not Found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if urlsplit(self.path).path != "/login/oauth/access_token":
                    self._send(404, {"message": "Not Found"})
                    return
                grant = standin.codes.pop(form.get("code", ""), None)
                if (
                    grant is None
                    or form.get("client_id") != standin.client_id
                    or form.get("client_secret") != standin.client_secret
                    or grant["query"].get("code_challenge_method") != "S256"
                    or _challenge(form.get("code_verifier", ""))
                    != grant["query"].get("code_challenge")
                ):
                    self._send(200, {"error": "bad_verification_code"})
                    return
                token = secrets.token_urlsafe(16)
                standin.tokens[token] = grant
                self._send(
                    200, {"access_token": token, "token_type": "bearer", "scope": "user:email"}
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
