"""Breached passwords: refused offline from zxcvbn's breach corpus, and, when the operator
turns it on, by the Pwned Passwords range check (here against a loopback stand-in), which
fails open with a log line that names neither the password nor its hash."""

from __future__ import annotations

import hashlib
import http.server
import logging
import threading
import time
from collections.abc import Iterator

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.models import User
from accounts.passwords.validators import BreachedPasswordValidator

PWNED = "maroon-Lantern-orbit-42"  # strong by zxcvbn's estimate, "breached" in the stand-in
CLEAN = "violet-Anchor-quarry-81"


def sha1(password: str) -> str:
    return hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()


class RangeStandIn(http.server.BaseHTTPRequestHandler):
    """Answers /range/<prefix> as the Pwned Passwords API does, padded: PWNED's suffix with a
    count, CLEAN's with 0 (a padding line), and some others."""

    seen: list[tuple[str, str | None]] = []
    delay = 0.0

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Add-Padding")))
        time.sleep(type(self).delay)
        lines = [f"{sha1(PWNED)[5:]}:12345", f"{sha1(CLEAN)[5:]}:0"]
        lines += [f"{i:035X}:{i}" for i in range(1, 50)]
        body = "\r\n".join(lines).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stand_in(settings) -> Iterator[type[RangeStandIn]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    RangeStandIn.seen, RangeStandIn.delay = [], 0.0
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True
    settings.GATEHOUSE_PWNED_PASSWORDS_CHECK = True
    settings.GATEHOUSE_PWNED_PASSWORDS_URL = f"http://127.0.0.1:{server.server_port}/range/"
    settings.GATEHOUSE_PWNED_PASSWORDS_TIMEOUT_MS = 500
    try:
        yield RangeStandIn
    finally:
        server.shutdown()
        server.server_close()


def sign_up(password: str):
    return Client().post("/accounts/signup/", {"email": "ada@example.com", "password1": password})


def test_a_breached_password_is_refused_offline_by_default(settings):
    assert settings.GATEHOUSE_PWNED_PASSWORDS_CHECK is False
    with pytest.raises(ValidationError) as refused:
        BreachedPasswordValidator().validate("translator")
    assert refused.value.code == "password_breached"

    response = sign_up("Translator")  # case does not hide it
    assert b"has appeared in a data breach" in response.content
    assert not User.objects.exists()


def test_with_the_range_check_off_nothing_is_sent(stand_in, settings):
    settings.GATEHOUSE_PWNED_PASSWORDS_CHECK = False

    BreachedPasswordValidator().validate(PWNED)  # passes: only the offline corpus is asked

    assert stand_in.seen == []


def test_the_range_check_refuses_a_pwned_password_sending_five_hex_digits(stand_in):
    response = sign_up(PWNED)

    assert b"has appeared in a data breach" in response.content
    assert not User.objects.exists()
    [(path, padding)] = stand_in.seen
    assert path == "/range/" + sha1(PWNED)[:5]
    assert padding == "true"


def test_the_range_check_lets_a_password_it_lists_as_padding_through(stand_in):
    assert sign_up(CLEAN).status_code == 302
    assert User.objects.filter(email="ada@example.com").exists()
    assert [path for path, _ in stand_in.seen] == ["/range/" + sha1(CLEAN)[:5]]


def assert_fails_open_quietly(caplog: pytest.LogCaptureFixture) -> str:
    with caplog.at_level(logging.WARNING, logger="accounts.passwords.breach"):
        BreachedPasswordValidator().validate(PWNED)  # no ValidationError: fail open
    [line] = [r.getMessage() for r in caplog.records if r.name == "accounts.passwords.breach"]
    assert "range check skipped" in line
    for secret in (PWNED, sha1(PWNED), sha1(PWNED)[5:], sha1(PWNED)[:5], sha1(PWNED).lower()):
        assert secret not in line
    return line


def test_the_range_check_fails_open_when_the_service_is_slow(stand_in, caplog):
    stand_in.delay = 2.0  # the deadline is 0.5 s

    line = assert_fails_open_quietly(caplog)

    assert "did not answer in time" in line


def test_the_range_check_fails_open_when_the_service_is_down(stand_in, settings, caplog):
    with socket_nobody_listens_on() as port:
        settings.GATEHOUSE_PWNED_PASSWORDS_URL = f"http://127.0.0.1:{port}/range/"
        line = assert_fails_open_quietly(caplog)
    assert "connect" in line.lower()


class socket_nobody_listens_on:
    """A loopback port that was bound and closed: connecting to it is refused."""

    def __enter__(self) -> int:
        import socket

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        sock.close()
        return self.port

    def __exit__(self, *exc: object) -> None:
        pass
