"""Real receivers on loopback, shaped like the destinations a log stream sends to.

- ``HttpReceiver``: an HTTP server (TLS with a throwaway certificate when asked) that records
  every request and answers through a ``judge`` function, or with queued answers (a 503, a
  slow answer) first. ``hec``, ``datadog`` and ``signed`` are the judges of Splunk's HTTP Event
  Collector, Datadog's log intake and a generic endpoint that verifies Standard Webhooks
  signatures with the Python ``standardwebhooks`` package.
- ``SyslogReceiver``: syslog over TLS (RFC 5425) with a certificate from a throwaway CA; it
  splits the octet-counted frames and reads each RFC 5424 message with regular expressions,
  not a syslog parser package (T11). With ``pause`` set it is slow: it waits that long
  before each of its steps.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0


Judge = Callable[[Received], Answer]


class HttpReceiver:
    """Records every request; answers with the queued answers first, then the judge's."""

    def __init__(self, judge: Judge, tls: ssl.SSLContext | None = None) -> None:
        self.judge = judge
        self.requests: list[Received] = []
        self.queued: deque[Answer] = deque()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the method name http.server dispatches to
                length = int(self.headers.get("Content-Length") or 0)
                got = Received(
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length),
                )
                receiver.requests.append(got)
                answer = receiver.queued.popleft() if receiver.queued else receiver.judge(got)
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers:
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the client gave up first (a timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.scheme = "https" if tls else "http"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- Judges ------------------------------------------------------------------------------------


class Later:
    """A judge chosen once the receiver runs (a signed stream's secret exists only after the
    stream was made with the receiver's URL)."""

    def __init__(self) -> None:
        self.judge: Judge | None = None

    def __call__(self, got: Received) -> Answer:
        assert self.judge is not None
        return self.judge(got)


def _json(status: int, doc: Any) -> Answer:
    return Answer(status, json.dumps(doc).encode(), (("Content-Type", "application/json"),))


def concatenated_objects(body: bytes) -> list[Any]:
    """Splunk HEC's batch: JSON objects one after another (whitespace between allowed)."""
    decoder = json.JSONDecoder()
    text, at = body.decode(), 0
    found: list[Any] = []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return found
        value, at = decoder.raw_decode(text, at)
        found.append(value)


def hec(token: str, events: list[dict[str, Any]]) -> Judge:
    """Splunk HEC: ``Authorization: Splunk <token>``, a channel, event objects (an array is
    refused as Splunk refuses it: code 6, invalid data format)."""

    def judge(got: Received) -> Answer:
        if got.path != "/services/collector/event":
            return _json(404, {"text": "The requested URL was not found", "code": 404})
        if got.headers.get("authorization") != f"Splunk {token}":
            return _json(403, {"text": "Invalid token", "code": 4})
        if not re.fullmatch(r"[0-9a-f-]{36}", got.headers.get("x-splunk-request-channel", "")):
            return _json(400, {"text": "Data channel is missing", "code": 10})
        try:
            objects = concatenated_objects(got.body)
        except ValueError:
            return _json(400, {"text": "Invalid data format", "code": 6})
        if not objects:
            return _json(400, {"text": "No data", "code": 5})
        for i, obj in enumerate(objects):
            if not isinstance(obj, dict) or "event" not in obj:
                return _json(
                    400, {"text": "Invalid data format", "code": 6, "invalid-event-number": i}
                )
        events.extend(objects)
        return _json(200, {"text": "Success", "code": 0})

    return judge


def datadog(api_key: str, logs: list[dict[str, Any]]) -> Judge:
    """Datadog's log intake: ``DD-API-KEY``, a JSON array of at most 1000 logs, 202."""

    def judge(got: Received) -> Answer:
        if got.path != "/api/v2/logs":
            return _json(404, {"errors": ["Not found"]})
        if got.headers.get("dd-api-key") != api_key:
            return _json(403, {"errors": ["Forbidden"]})
        try:
            body = json.loads(got.body)
        except ValueError:
            return _json(400, {"errors": ["Bad request"]})
        if not isinstance(body, list) or not body:
            return _json(400, {"errors": ["Bad request"]})
        if len(body) > 1000:
            return _json(413, {"errors": ["Payload too large"]})
        logs.extend(body)
        return _json(202, {})

    return judge


def signed(secret: str, batches: list[list[dict[str, Any]]]) -> Judge:
    """A generic HTTPS endpoint that checks every batch's Standard Webhooks signature."""

    def judge(got: Received) -> Answer:
        try:
            body = Webhook(secret).verify(got.body, got.headers)
        except WebhookVerificationError:
            return _json(401, {"error": "bad signature"})
        batches.append(body)
        return Answer(204)

    return judge


# --- TLS material ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca_pem: str
    server: ssl.SSLContext
    ca_path: str


def throwaway_pki(tmp_path: Path, name: str = "localhost") -> Pki:
    """A CA of its own and a server certificate it signed for ``name``."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Throwaway test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    chain_path, key_path = tmp_path / "server.pem", tmp_path / "server.key"
    chain_path.write_bytes(pem(leaf) + pem(ca))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ca_path = tmp_path / "ca.pem"
    ca_path.write_bytes(pem(ca))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain_path, key_path)
    return Pki(ca_pem=pem(ca).decode(), server=context, ca_path=str(ca_path))


# --- Syslog over TLS ---------------------------------------------------------------------------

FRAME_LENGTH = re.compile(rb"([1-9][0-9]{0,8}) ")
SYSLOG_MESSAGE = re.compile(
    rb"<(?P<pri>[0-9]{1,3})>1 (?P<timestamp>\S+) (?P<hostname>\S+) (?P<app>\S+) "
    rb"(?P<procid>\S+) (?P<msgid>\S+) (?P<sd>-|\[.*?\]) (?P<msg>.*)",
    re.DOTALL,
)


@dataclass
class SyslogMessage:
    pri: int
    timestamp: str
    hostname: str
    app: str
    msgid: str
    structured_data: str
    msg: bytes

    @property
    def record(self) -> dict[str, Any]:
        assert self.msg.startswith(b"\xef\xbb\xbf"), "the MSG is UTF-8 with a BOM (RFC 5424)"
        return json.loads(self.msg[3:].decode("utf-8"))


def split_frames(data: bytes) -> list[bytes]:
    """RFC 5425 octet counting: ``MSG-LEN SP SYSLOG-MSG``, one after another, nothing else."""
    frames, at = [], 0
    while at < len(data):
        head = FRAME_LENGTH.match(data, at)
        assert head, f"no frame length at byte {at}: {data[at : at + 20]!r}"
        length = int(head.group(1))
        start = head.end()
        assert start + length <= len(data), "a frame runs past the end of the session"
        frames.append(data[start : start + length])
        at = start + length
    return frames


def parse_message(frame: bytes) -> SyslogMessage:
    found = SYSLOG_MESSAGE.fullmatch(frame)
    assert found, f"not an RFC 5424 message: {frame[:80]!r}"
    return SyslogMessage(
        pri=int(found["pri"]),
        timestamp=found["timestamp"].decode(),
        hostname=found["hostname"].decode(),
        app=found["app"].decode(),
        msgid=found["msgid"].decode("ascii"),
        structured_data=found["sd"].decode(),
        msg=found["msg"],
    )


class SyslogReceiver:
    """Syslog over TLS on 127.0.0.1. Each session's bytes are kept once the client closed TLS
    cleanly; ``drop_sessions`` > 0 cuts that many sessions off mid-way (no close_notify).

    ``pause`` > 0 makes it slow the way a per-call timeout does not catch: it waits that long
    before the TLS handshake and again before reading the session, so each of the client's
    waits (for the handshake, for the answer to its close_notify) is ``pause`` seconds while
    the session as a whole takes twice that. ``cut`` counts sessions that ended without a
    clean close."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        self.tls = tls
        self.sessions: list[bytes] = []
        self.drop_sessions = 0
        self.pause = 0.0
        self.cut = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def messages(self) -> list[SyslogMessage]:
        return [parse_message(f) for data in self.sessions for f in split_frames(data)]

    def _accept(self) -> None:
        while not self._stopped:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(10)
        pause = self.pause
        time.sleep(pause)
        try:
            conn = self.tls.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            self.cut += 1
            raw.close()
            return
        try:
            if self.drop_sessions > 0:
                self.drop_sessions -= 1
                conn.recv(1)
                socket.socket.shutdown(conn, socket.SHUT_RDWR)  # cut off, no close_notify
                return
            time.sleep(pause)
            data = b""
            while chunk := conn.recv(65536):  # b"" once the client's close_notify arrives
                data += chunk
            conn.unwrap()  # our close_notify back: the client's unwrap() completes
            self.sessions.append(data)
        except (OSError, ssl.SSLError):
            self.cut += 1
        finally:
            conn.close()

    def stop(self) -> None:
        self._stopped = True
        self.listener.close()
