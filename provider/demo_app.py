"""A sample web app that signs people in through Gatehouse, built on provider/demo_client.py's
pieces (code + PKCE S256, state, nonce, the RFC 9207 ``iss`` check, the ID token checked
against the JWKS)::

    .venv/bin/python -m provider.demo_app --issuer http://localhost:8000 --client-id <id>

serves http://127.0.0.1:8765/. "Sign in with Gatehouse" sends the browser to /o/authorize/
with a fresh state, nonce and PKCE verifier, and a cookie binds that state to the browser; the
code comes back to /callback, is exchanged, and the page shows who signed in and how (``acr``,
``amr``). An error Gatehouse sends back (``access_denied`` when the person says no) is shown
as the app received it.

It keeps its sign-ins in memory and speaks plain http, which only a native app's loopback
redirect allows (RFC 8252): a recipe to read and to try, not a production app.
"""

from __future__ import annotations

import argparse
import html
import secrets
import sys
import threading
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from provider.demo_client import (
    CALLBACK_PATH,
    DEFAULT_ISSUER,
    DEFAULT_PORT,
    Endpoints,
    Pending,
    SignInFailed,
    code_from,
    exchange,
    id_token_claims,
    start,
)

STATE_COOKIE = "demo_app_state"
SESSION_COOKIE = "demo_app_session"
# Sign-ins started and never finished are forgotten, oldest first, past this many.
MAX_PENDING = 100
SHOWN_CLAIMS = ("sub", "name", "email", "email_verified", "acr", "amr", "auth_time", "iss")


@dataclass
class Reply:
    status: int
    body: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)


def _cookie(name: str, value: str, *, max_age: int | None = None) -> tuple[str, str]:
    # HttpOnly: no script reads it. SameSite=Lax: still sent on the top-level redirect back
    # from Gatehouse (another site), never on a cross-site POST or a subrequest.
    expiry = f"; Max-Age={max_age}" if max_age is not None else ""
    return ("Set-Cookie", f"{name}={value}; Path=/; HttpOnly; SameSite=Lax{expiry}")


def _page(title: str, content: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{content}</main></body></html>"
    )


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    return str(value)


class SampleApp:
    """The app's three pages: ``/`` (who is signed in, or a sign-in link), ``/login`` (off to
    Gatehouse) and ``/callback`` (the code back, exchanged and checked)."""

    def __init__(
        self,
        endpoints: Endpoints,
        issuer: str,
        client_id: str,
        *,
        port: int = DEFAULT_PORT,
        scope: str = "openid profile email",
    ) -> None:
        self.endpoints, self.issuer, self.client_id, self.scope = (
            endpoints,
            issuer,
            client_id,
            scope,
        )
        self._lock = threading.Lock()
        self._pending: dict[str, Pending] = {}  # by the browser's state cookie
        self._sessions: dict[str, dict[str, Any]] = {}  # ID token claims, by session cookie
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def redirect_uri(self) -> str:
        return self.url + CALLBACK_PATH

    def serve_in_background(self) -> SampleApp:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- Pages -------------------------------------------------------------------------------

    def home(self, cookies: dict[str, str]) -> Reply:
        with self._lock:
            claims = self._sessions.get(cookies.get(SESSION_COOKIE, ""))
        if claims is None:
            link = '<p><a id="sign-in" href="/login">Sign in with Gatehouse</a></p>'
            return Reply(200, _page("Sample app", link))
        rows = "".join(
            f'<tr><th scope="row">{name}</th>'
            f'<td id="claim-{name}">{html.escape(_shown(claims[name]))}</td></tr>'
            for name in SHOWN_CLAIMS
            if name in claims
        )
        who = html.escape(str(claims.get("name") or claims.get("email") or claims["sub"]))
        content = (
            f'<p id="signed-in-as">Signed in as {who}.</p>'
            f"<table><caption>The ID token's claims</caption>{rows}</table>"
            '<p><a id="sign-in" href="/login">Sign in again</a></p>'
        )
        return Reply(200, _page("Sample app", content))

    def login(self) -> Reply:
        pending = start(self.endpoints, self.client_id, self.redirect_uri, self.scope)
        with self._lock:
            self._pending[pending.state] = pending
            while len(self._pending) > MAX_PENDING:
                del self._pending[next(iter(self._pending))]
        return Reply(302, headers=[("Location", pending.url), _cookie(STATE_COOKIE, pending.state)])

    def callback(self, path: str, cookies: dict[str, str]) -> Reply:
        forget_state = _cookie(STATE_COOKIE, "", max_age=0)
        with self._lock:
            pending = self._pending.pop(cookies.get(STATE_COOKIE, ""), None)
        try:
            if pending is None:
                raise SignInFailed("no sign-in was started in this browser")
            code = code_from(self.url + path, pending, self.issuer)
            tokens = exchange(self.endpoints, self.client_id, code, pending)
            claims = id_token_claims(
                self.endpoints, self.issuer, self.client_id, tokens["id_token"], pending.nonce
            )
        except SignInFailed as failure:
            content = (
                f'<p id="sign-in-error">{html.escape(str(failure))}</p>'
                '<p><a id="sign-in" href="/login">Try again</a></p>'
            )
            return Reply(400, _page("Sign-in failed", content), [forget_state])
        session = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[session] = claims
        # Off the callback address, so a reload does not post the spent code again.
        return Reply(
            303, headers=[("Location", "/"), forget_state, _cookie(SESSION_COOKIE, session)]
        )

    def reply_to(self, path: str, cookies: dict[str, str]) -> Reply:
        route = urlsplit(path).path
        if route == "/":
            return self.home(cookies)
        if route == "/login":
            return self.login()
        if route == CALLBACK_PATH:
            return self.callback(path, cookies)
        return Reply(404, _page("Not found", ""))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jar = SimpleCookie(self.headers.get("Cookie", ""))
                reply = app.reply_to(self.path, {name: m.value for name, m in jar.items()})
                body = reply.body.encode()
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--issuer", default=DEFAULT_ISSUER)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    issuer = args.issuer.rstrip("/")
    app = SampleApp(Endpoints.of(issuer), issuer, args.client_id, port=args.port)
    print(f"The sample app is at {app.url}/ (Ctrl-C to stop).", flush=True)
    try:
        app.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
