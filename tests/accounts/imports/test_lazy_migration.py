"""Lazy migration: a person imported without a hash signs in with the password the old
system knows; a stand-in of the old system on loopback answers. After the first yes Gatehouse
keeps an Argon2id hash and never asks again; a no, an old system that is down, and an unknown
address all look the same to the person signing in."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accounts.models import User
from tests.accounts.imports.helpers import GATEHOUSE_HASH, run, sign_in, signed_in

TOKEN = "old-system-shared-secret"
OLD_PASSWORD = "the password from before"


class OldSystem(BaseHTTPRequestHandler):
    calls: list[dict] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        OldSystem.calls.append(body)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
            self.end_headers()
            return
        valid = body == {"subject": "legacy|42", "password": OLD_PASSWORD}
        answer = json.dumps({"valid": valid}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def old_system(settings):
    OldSystem.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), OldSystem)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True
    settings.GATEHOUSE_LEGACY_PASSWORD_CHECK_URL = f"http://127.0.0.1:{server.server_port}/check"
    settings.GATEHOUSE_LEGACY_PASSWORD_CHECK_TOKEN = TOKEN
    settings.GATEHOUSE_LEGACY_PASSWORD_CHECK_TIMEOUT_MS = 2000
    run(
        [
            {
                "external_id": "legacy|42",
                "email": "ada@example.com",
                "email_verified": True,
                "password": {"format": "legacy"},
            }
        ]
    )
    yield server
    server.shutdown()
    server.server_close()


def refusal(response) -> list[str]:
    return list(response.context["form"].non_field_errors())


def test_first_sign_in_asks_the_old_system_then_never_again(old_system):
    assert User.objects.get(email="ada@example.com").password.startswith("legacy$")
    client, response = sign_in("ada@example.com", OLD_PASSWORD)
    assert response.status_code == 302
    assert signed_in(client)
    assert OldSystem.calls == [{"subject": "legacy|42", "password": OLD_PASSWORD}]
    assert User.objects.get(email="ada@example.com").password.startswith(GATEHOUSE_HASH)

    old_system.shutdown()  # the old system is gone for good: Gatehouse no longer needs it
    client, response = sign_in("ada@example.com", OLD_PASSWORD)
    assert signed_in(client)
    assert len(OldSystem.calls) == 1


def test_a_wrong_password_is_refused_like_any_other(old_system):
    client, wrong = sign_in("ada@example.com", "not the password at all")
    assert not signed_in(client)
    assert len(OldSystem.calls) == 1
    assert User.objects.get(email="ada@example.com").password.startswith("legacy$")
    _, unknown = sign_in("nobody@example.com", "not the password at all")
    assert refusal(wrong) == refusal(unknown) != []


def test_an_old_system_that_is_down_refuses_without_logging_the_password(
    old_system, settings, caplog
):
    old_system.shutdown()
    old_system.server_close()
    with caplog.at_level(logging.WARNING, logger="gatehouse.imports.legacy"):
        client, down = sign_in("ada@example.com", OLD_PASSWORD)
    assert not signed_in(client)
    assert User.objects.get(email="ada@example.com").password.startswith("legacy$")
    assert "legacy password check for legacy|42 failed" in caplog.text
    assert OLD_PASSWORD not in caplog.text
    _, unknown = sign_in("nobody@example.com", OLD_PASSWORD)
    assert refusal(down) == refusal(unknown)


def test_the_old_system_refusing_gatehouses_token_is_a_no(old_system, settings):
    settings.GATEHOUSE_LEGACY_PASSWORD_CHECK_TOKEN = "wrong token"
    client, _ = sign_in("ada@example.com", OLD_PASSWORD)
    assert not signed_in(client)
    assert User.objects.get(email="ada@example.com").password.startswith("legacy$")


def test_an_address_outside_the_outbound_rules_is_never_called(old_system, settings):
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = False  # loopback is not for production
    client, _ = sign_in("ada@example.com", OLD_PASSWORD)
    assert not signed_in(client)
    assert OldSystem.calls == []
