"""Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when a person's tokens end,
each app with a back-channel logout URI receives a signed logout token, POSTed by a Celery
task that retries with backoff. Proven with a real worker on Redis and a real HTTP receiver
on loopback that refuses the first delivery with a 500."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from django.test import Client
from jwcrypto import jwk, jwt

from provider import logout_tokens
from provider.models import Application
from provider.services.revocation import Reason, revoke_tokens
from provider.tasks import send_backchannel_logout
from tests.factories import UserFactory
from tests.provider.person_tokens import issue, web_app

SCOPES = ["invoices:read"]
EVENT = "http://schemas.openid.net/event/backchannel-logout"


class Receiver:
    """An app's back-channel logout endpoint on 127.0.0.1: answers ``statuses`` in turn (then
    200) and keeps every form it was sent, with the time it came."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.received: list[tuple[float, dict[str, list[str]], int]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = parse_qs(self.rfile.read(length).decode())
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.received.append((time.monotonic(), form, status))
                self.send_response(status)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/backchannel-logout"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and len(self.received) < count:
            time.sleep(0.1)
        assert len(self.received) >= count, self.received


@pytest.fixture
def receiver():
    server = Receiver([500])
    yield server
    server.stop()


@pytest.fixture
def loopback_allowed(monkeypatch, settings):
    """Plain http on 127.0.0.1 for the receiver, here and in the worker (which reads its
    settings from the environment); production refuses to start with it."""
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS", "true")
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True


@pytest.fixture
def worker(loopback_allowed, celery_worker):
    return celery_worker


def listening_app(invoices_api, receiver_url: str):
    """A web app with a back-channel logout URI. Registration takes https only, so the
    loopback receiver's http URL is put on the row afterwards."""
    app = web_app(
        name="Ledger Cloud",
        api=invoices_api,
        scopes=SCOPES,
        backchannel_logout_uri="https://ledger.example/backchannel-logout",
    )
    Application.objects.filter(pk=app.application.pk).update(backchannel_logout_uri=receiver_url)
    app.application.refresh_from_db()
    return app


def verify(token: str, client: Client) -> tuple[dict, dict]:
    """Header and claims of a logout token, its signature checked with the published JWKS."""
    keyset = jwk.JWKSet.from_json(client.get("/o/.well-known/jwks.json").content.decode())
    parsed = jwt.JWT(jwt=token, key=keyset, algs=["RS256", "ES256"])
    return parsed.token.jose_header, json.loads(parsed.claims)


@pytest.mark.services
def test_a_real_worker_delivers_a_signed_logout_token_after_a_failed_try(
    worker, receiver, invoices_api, settings
):
    person = UserFactory(email="pat@person.example")
    app = listening_app(invoices_api, receiver.url)
    issue(app, person, invoices_api, SCOPES, sid="sid-laptop")

    revoke_tokens(user=person, reason=Reason.BLOCKED)  # commits, then queues the task

    receiver.wait_for(2)
    (first_at, first, first_status), (second_at, second, second_status) = receiver.received[:2]
    assert (first_status, second_status) == (500, 200)
    assert second_at - first_at >= 1  # the retry waited (backoff), it did not hammer
    header, claims = verify(second["logout_token"][0], Client())
    assert header["typ"] == "logout+jwt"
    assert header["alg"] == app.application.algorithm
    assert claims["iss"] == settings.GATEHOUSE_PUBLIC_URL
    assert claims["aud"] == app.application.client_id
    assert claims["sub"] == str(person.public_id)
    assert claims["sid"] == "sid-laptop"
    assert claims["events"] == {EVENT: {}}
    assert claims["exp"] - claims["iat"] == 120
    assert "nonce" not in claims
    # Each attempt signs a fresh token: a retry much later must not carry an expired one.
    _, first_claims = verify(first["logout_token"][0], Client())
    assert first_claims["jti"] != claims["jti"]
    time.sleep(1)
    assert len(receiver.received) == 2  # delivered once accepted, never again


def test_nothing_is_sent_to_an_app_without_a_back_channel_uri(receiver, invoices_api):
    person = UserFactory(email="pat@person.example")
    quiet = web_app(name="Quiet", api=invoices_api, scopes=SCOPES)
    issue(quiet, person, invoices_api, SCOPES)

    revoked = revoke_tokens(user=person, reason=Reason.BLOCKED)

    assert revoked.logouts_queued == 0
    assert send_backchannel_logout(quiet.application.pk, str(person.public_id), "") == (
        "no receiver"
    )


def test_one_logout_per_session_of_each_listening_app(loopback_allowed, invoices_api):
    receiver = Receiver([])
    try:
        person = UserFactory(email="pat@person.example")
        app = listening_app(invoices_api, receiver.url)
        issue(app, person, invoices_api, SCOPES, sid="sid-a")
        issue(app, person, invoices_api, SCOPES, sid="sid-a")
        issue(app, person, invoices_api, SCOPES, sid="sid-b")

        revoked = revoke_tokens(user=person, reason=Reason.BLOCKED)  # tasks run eagerly here

        assert revoked.logouts_queued == 2
        sids = sorted(
            verify(form["logout_token"][0], Client())[1]["sid"] for _, form, _ in receiver.received
        )
        assert sids == ["sid-a", "sid-b"]
    finally:
        receiver.stop()


def test_an_app_that_refuses_the_token_is_not_retried(loopback_allowed, invoices_api):
    receiver = Receiver([400])
    try:
        person = UserFactory(email="pat@person.example")
        app = listening_app(invoices_api, receiver.url)

        outcome = send_backchannel_logout(app.application.pk, str(person.public_id), "sid-a")

        assert outcome == "refused by app (400)"
        assert len(receiver.received) == 1
    finally:
        receiver.stop()


def test_a_private_address_is_never_contacted(receiver, invoices_api, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = False
    person = UserFactory(email="pat@person.example")
    app = listening_app(invoices_api, receiver.url)

    outcome = send_backchannel_logout(app.application.pk, str(person.public_id), "sid-a")

    assert outcome == "refused"
    assert receiver.received == []


def test_the_logout_token_is_signed_with_the_apps_algorithm(invoices_api, signing_keys):
    app = web_app(name="EC app", api=invoices_api, scopes=SCOPES, algorithm="ES256")

    token = logout_tokens.build(app.application, sub="someone", sid="")

    header, claims = verify(token, Client())
    assert header["alg"] == "ES256"
    assert "sid" not in claims
    assert claims["sub"] == "someone"
