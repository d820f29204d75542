"""Fetching URLs that org admins typed in (SAML metadata, OIDC discovery and keys, and the
token and userinfo endpoints allauth calls).

The server makes these requests, so they must not become a way to probe Gatehouse's own
network: https only, every address the name resolves to must be public, no redirects, a
timeout and a size cap. The address is checked twice: when the URL is accepted (a clear message
for the admin) and on the socket itself, once connected and before a byte is sent, so a name
that resolves to a public address for the check and to a private one a moment later (DNS
rebinding) gets nowhere. Environment proxies are ignored for the same reason.
``SSO_ALLOW_PRIVATE_URLS`` (tests only; production refuses it) lets the test suite reach its
IdPs on 127.0.0.1 over plain http.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

MAX_BYTES = 1024 * 1024


class FetchError(Exception):
    """A URL could not or must not be fetched; the message is fit to show an admin."""


def check_url(url: str) -> str:
    """The URL, if Gatehouse may fetch it; FetchError otherwise."""
    parts = urlsplit((url or "").strip())
    allow_private = settings.SSO_ALLOW_PRIVATE_URLS
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise FetchError("The URL must start with https://.")
    if not parts.hostname or parts.username or parts.password:
        raise FetchError("The URL must name a host, without a user name or password.")
    if allow_private:
        return url
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise FetchError(f"{parts.hostname} does not resolve.") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise FetchError(f"{parts.hostname} points at a private or local address.")
    return url


def _public_peer(connection: HTTPConnection, sock: socket.socket) -> socket.socket:
    if settings.SSO_ALLOW_PRIVATE_URLS:
        return sock
    address = ipaddress.ip_address(sock.getpeername()[0])
    if not address.is_global:
        sock.close()
        raise NewConnectionError(connection, f"{connection.host} connected to a non-public address")
    return sock


class _PublicHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _public_peer(self, super()._new_conn())


class _PublicHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _public_peer(self, super()._new_conn())


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class PublicOnlyAdapter(HTTPAdapter):
    """A requests transport that only ever talks to public addresses."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _PublicHTTPPool,
            "https": _PublicHTTPSPool,
        }


def public_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # an environment proxy would be the peer, not the IdP
    adapter = PublicOnlyAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def fetch(url: str, *, accept: str) -> bytes:
    check_url(url)
    try:
        with (
            public_session() as session,
            session.get(
                url,
                headers={"Accept": accept, "User-Agent": "Gatehouse"},
                timeout=settings.SSO_FETCH_TIMEOUT_SECONDS,
                allow_redirects=False,
                stream=True,
            ) as response,
        ):
            if response.status_code != 200:
                raise FetchError(f"The server answered {response.status_code}.")
            body = b""
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > MAX_BYTES:
                    raise FetchError("The document is larger than 1 MB.")
            return body
    except requests.RequestException as exc:
        raise FetchError(f"Could not fetch it: {type(exc).__name__}.") from exc
