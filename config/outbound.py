"""Every request Gatehouse makes to a URL somebody typed in: SSO metadata and discovery, the
IdP's token and userinfo endpoints, back-channel logout, webhooks and log streams.

The server makes these calls, so a URL must not become a way to reach Gatehouse's own network
(SSRF). The rules, in the order they apply:

- https only, a host name, no user name or password in the URL;
- the name is resolved, and **every** address it resolves to must be public (``is_public``:
  IPv6 forms that carry an IPv4 address inside are judged by that IPv4). One private address
  refuses the whole host, so a name cannot mix a public address with an internal one;
- the connection goes to an address that was just vetted, while TLS (SNI and the certificate)
  and the ``Host`` header use the name: a second DNS answer (rebinding) is never consulted;
- redirects are never followed: a 3xx comes back to the caller as the answer it is;
- environment proxies are ignored (the proxy would be the peer, not the destination);
- one deadline covers connecting, sending and reading, and the body read is capped.

Transports that are not HTTP (syslog over TLS) open their connection with ``tls_session``,
which holds them to the same rules and the same kind of deadline: connecting, the TLS
handshake and everything the caller writes and reads.

Private networks are reachable only for **operator-owned** destinations and only inside the
CIDRs of ``GATEHOUSE_OUTBOUND_ALLOWED_NETWORKS`` (env ``OUTBOUND_ALLOWED_NETWORKS``). A URL an
org admin typed is never given that allowance. ``OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS`` lets the
test suite reach its servers on loopback over plain http; production refuses to start with it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# IPv6 prefixes whose last 32 bits are an IPv4 address: the NAT64 well-known prefix (RFC 6052)
# and the deprecated IPv4-compatible form (which also holds :: and ::1).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# RFC 8215's local-use NAT64 prefix translates to whatever the local network decides.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
_LOOPBACK = (ipaddress.IPv4Network("127.0.0.0/8"), ipaddress.IPv6Network("::1/128"))


# Errors raised before any byte of the request left: trying the next address is safe.
_NOT_CONNECTED = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)


class OutboundError(Exception):
    """A call that did not happen or did not finish; the message is fit to show an admin and
    never carries a secret."""


class Refused(OutboundError):
    """The URL or its addresses are not allowed: trying again will not help."""


class Failed(OutboundError):
    """The call was allowed but did not complete (DNS, connection, TLS, deadline)."""


TIMED_OUT = "The server did not answer in time."


@dataclass(frozen=True)
class Target:
    """A URL that passed the rules, with the addresses vetted for it just now."""

    scheme: str
    host: str
    port: int
    netloc: str  # the Host header: name and port as written, brackets kept for IPv6
    path: str  # path and query, what goes on the request line
    addresses: tuple[IPAddress, ...]


@dataclass(frozen=True)
class Response:
    """What the destination answered. ``truncated`` means the body went past the cap and
    only the first ``max_bytes`` were kept; the rest was never read."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes
    truncated: bool


# --- Which addresses are public ----------------------------------------------------------------


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: str | IPAddress) -> bool:
    """True only for an address on the public internet.

    ``is_global`` alone is not enough on Python 3.11: it calls multicast public, and IPv6
    forms that carry an IPv4 address (NAT64, 6to4, IPv4-compatible; IPv4-mapped on older
    patch levels) pass even when the IPv4 inside is 10.0.0.1 or 127.0.0.1. So the IPv4 inside
    is judged instead, and for Teredo both the server and the client address must be public.
    The decoding follows django-oauth-toolkit's CIMD fetcher (``oauth2_provider.cimd``), which
    is private to that package; Gatehouse adds multicast, reserved and local-use NAT64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.teredo is not None:
            return all(is_public(part) for part in ip.teredo)
        if ip in _LOCAL_NAT64:
            return False
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return is_public(inner)
        if ip.is_site_local:  # fec0::/10: deprecated, but still routed inside some networks
            return False
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


# --- Vetting ----------------------------------------------------------------------------------


def _for_tests() -> bool:
    return bool(getattr(settings, "OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS", False))


def _allowed(ip: IPAddress, *, operator_owned: bool) -> bool:
    if is_public(ip):
        return True
    if operator_owned and any(ip in net for net in settings.GATEHOUSE_OUTBOUND_ALLOWED_NETWORKS):
        return True
    return _for_tests() and any(ip in net for net in _LOOPBACK)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every TCP address the name resolves to, in the resolver's order (the one place that
    asks DNS, so that rebinding tests can answer differently on the second call)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Failed(f"{host} does not resolve.") from exc
    found: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if ip not in found:
            found.append(ip)
    return found


def vet_host(host: str, port: int, *, operator_owned: bool = False) -> list[IPAddress]:
    """The host's addresses if Gatehouse may connect to all of them; Refused otherwise."""
    addresses = resolve(host, port)
    if not addresses:
        raise Failed(f"{host} does not resolve.")
    for ip in addresses:
        if not _allowed(ip, operator_owned=operator_owned):
            raise Refused(f"{host} points at a private or local address.")
    return addresses


def vet_url(url: str, *, operator_owned: bool = False) -> Target:
    """Check a URL against the rules and resolve it now (at save time for a clear form error,
    and again before every call)."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError as exc:
        raise Refused("That is not a valid URL.") from exc
    if parts.scheme != "https" and not (_for_tests() and parts.scheme == "http"):
        raise Refused("The URL must start with https://.")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise Refused("The URL must name a host, without a user name or password.")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = vet_host(parts.hostname, port, operator_owned=operator_owned)
    return Target(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port,
        netloc=parts.netloc,
        path=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
        addresses=tuple(addresses),
    )


# --- Calling ----------------------------------------------------------------------------------


class Deadline:
    """Shuts the connected socket when the deadline passes. A socket timeout bounds each
    read, not their sum: a server that drips one header line or one body byte at a time
    would otherwise hold the caller far past its deadline. ``at`` is on the
    ``time.monotonic`` clock; ``passed`` tells afterwards that the deadline, not the server,
    ended the exchange."""

    def __init__(self, at: float) -> None:
        self.at = at
        self.passed = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
        self._timer = threading.Timer(max(self.remaining(), 0.0), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            self.passed = True
            if self._sock is not None:
                # The plain socket call: an SSLSocket's own shutdown touches TLS state.
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._sock = None


class _WatchedHTTPConnection(HTTPConnection):
    def __init__(self, *args: Any, on_connect: Callable[[socket.socket], None], **kw: Any):
        super().__init__(*args, **kw)
        self._on_connect = on_connect

    def connect(self) -> None:
        super().connect()
        self._on_connect(self.sock)


class _WatchedHTTPSConnection(HTTPSConnection):
    def __init__(self, *args: Any, on_connect: Callable[[socket.socket], None], **kw: Any):
        super().__init__(*args, **kw)
        self._on_connect = on_connect

    def connect(self) -> None:
        super().connect()  # the TLS handshake runs under the connect timeout
        self._on_connect(self.sock)


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_tls_contexts: dict[tuple[str | None, str | None], ssl.SSLContext] = {}
_tls_contexts_lock = threading.Lock()


def _tls_context() -> ssl.SSLContext:
    """The verifying client context, one per process. Building one reads the whole CA store,
    some 30 ms of CPU, more than a webhook delivery costs otherwise. OpenSSL finds the store
    through ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``, so a change to those makes a new one; a
    CA bundle updated on disk is read when the process restarts."""
    key = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    with _tls_contexts_lock:
        context = _tls_contexts.get(key)
        if context is None:
            context = _tls_contexts[key] = ssl.create_default_context()
        return context


def _pool(target: Target, ip: IPAddress, deadline: Deadline) -> HTTPConnectionPool:
    """A one-connection pool to the vetted address, with TLS checked against the name."""
    remaining = max(deadline.remaining(), 0.001)
    common: dict[str, Any] = {
        "host": str(ip),
        "port": target.port,
        "timeout": urllib3.Timeout(connect=remaining, read=remaining),
        "retries": False,
        "maxsize": 1,
        "on_connect": deadline.watch,
    }
    if target.scheme == "http":
        return _HTTPPool(**common)
    return _HTTPSPool(
        **common,
        ssl_context=_tls_context(),
        server_hostname=target.host,
    )


def _exchange(
    target: Target,
    ip: IPAddress,
    method: str,
    headers: dict[str, str],
    body: bytes | None,
    deadline: Deadline,
    max_bytes: int,
) -> Response:
    pool = _pool(target, ip, deadline)
    try:
        raw = pool.urlopen(
            method,
            target.path,
            body=body,
            headers=headers,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            content = raw.read(max_bytes + 1, decode_content=True)
        finally:
            raw.release_conn()
        if deadline.passed:
            raise Failed(TIMED_OUT)
        return Response(
            status=raw.status,
            reason=raw.reason or "",
            headers=dict(raw.headers.items()),
            body=content[:max_bytes],
            truncated=len(content) > max_bytes,
        )
    finally:
        deadline.stop()
        pool.close()


def request(
    method: str,
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    operator_owned: bool = False,
) -> Response:
    """Vet the URL (again: DNS answers change), then make one request within ``timeout``
    seconds in all, reading at most ``max_bytes`` of the body. A redirect is returned, not
    followed. Raises Refused or Failed."""
    started = time.monotonic()
    target = vet_url(url, operator_owned=operator_owned)
    sent = {"User-Agent": "Gatehouse", **(headers or {}), "Host": target.netloc}
    problem: Exception | None = None
    for ip in target.addresses:
        deadline = Deadline(started + timeout)
        if deadline.remaining() <= 0:
            break
        try:
            return _exchange(target, ip, method, sent, body, deadline, max_bytes)
        except _NOT_CONNECTED as exc:
            problem = exc  # nothing was sent: the next address may answer
        except urllib3.exceptions.HTTPError as exc:
            raise _failure(exc, deadline) from exc
    if problem is None:
        raise Failed(TIMED_OUT)
    raise Failed(f"Could not connect: {_name(problem)}.") from problem


def _name(exc: Exception) -> str:
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        return "ConnectTimeout"
    if isinstance(exc, urllib3.exceptions.SSLError):
        return "SSLError"
    return "ConnectionError"


def _failure(exc: urllib3.exceptions.HTTPError, deadline: Deadline) -> Failed:
    if deadline.passed or isinstance(exc, urllib3.exceptions.TimeoutError):
        return Failed(TIMED_OUT)
    if isinstance(exc, urllib3.exceptions.SSLError):
        return Failed("The TLS connection failed (certificate or protocol).")
    return Failed(f"The connection failed: {type(exc).__name__}.")


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
    max_bytes: int,
    operator_owned: bool = False,
) -> Response:
    return request(
        "POST",
        url,
        body=body,
        headers=headers,
        timeout=timeout,
        max_bytes=max_bytes,
        operator_owned=operator_owned,
    )


def connect(host: str, port: int, *, timeout: float, operator_owned: bool = False) -> socket.socket:
    """A TCP connection to a vetted address of ``host`` (for transports that are not HTTP,
    such as syslog over TLS: wrap it with ``server_hostname=host``)."""
    started = time.monotonic()
    problem: OSError | None = None
    for ip in vet_host(host, port, operator_owned=operator_owned):
        remaining = started + timeout - time.monotonic()
        if remaining <= 0:
            break
        try:
            return socket.create_connection((str(ip), port), timeout=remaining)
        except OSError as exc:
            problem = exc
    raise Failed(f"Could not connect to {host}:{port}.") from problem


@contextlib.contextmanager
def tls_session(
    host: str,
    port: int,
    *,
    context: ssl.SSLContext,
    timeout: float,
    operator_owned: bool = False,
) -> Iterator[ssl.SSLSocket]:
    """A TLS connection to a vetted address of ``host``, its certificate checked against
    ``host``, for a transport that is not HTTP (syslog over TLS).

    One deadline, ``timeout`` seconds from this call, covers connecting, the handshake and
    everything the caller does inside the ``with`` block: when it passes the socket is shut,
    the call that was waiting fails, and the block ends in ``Failed("The server did not answer
    in time.")``. A per-call socket timeout alone would let a server that answers each step
    just in time hold the caller for the sum of them. Any other failure of the connection
    is ``Failed`` with a message fit to show an admin; a block that ran past the deadline is
    never reported as a success."""
    deadline = Deadline(time.monotonic() + timeout)
    raw = connect(host, port, timeout=deadline.remaining(), operator_owned=operator_owned)
    tls: ssl.SSLSocket | None = None
    try:
        raw.settimeout(max(deadline.remaining(), 0.001))
        # No handshake yet: the TLS socket takes the descriptor over from ``raw``, so it is
        # the one to watch, and it must be watched before any TLS byte is exchanged.
        tls = context.wrap_socket(raw, server_hostname=host, do_handshake_on_connect=False)
        deadline.watch(tls)
        tls.do_handshake()
        yield tls
    except ssl.SSLCertVerificationError as exc:
        raise Failed("The server's certificate was not trusted.") from exc
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        if deadline.passed or isinstance(exc, TimeoutError):  # the timer or the socket's own
            raise Failed(TIMED_OUT) from exc
        raise Failed(f"The TLS session failed: {type(exc).__name__}.") from exc
    finally:
        deadline.stop()
        for sock in (tls, raw):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
    if deadline.passed:
        raise Failed(TIMED_OUT)
