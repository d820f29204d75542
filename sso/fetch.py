"""Fetching URLs that org admins typed in (SAML metadata, OIDC discovery and keys).

The server makes these requests, so they must not become a way to probe Gatehouse's own
network: https only, every address the name resolves to must be public, no redirects, a
timeout and a size cap. ``SSO_ALLOW_PRIVATE_URLS`` (tests only; production refuses it) lets
the test suite reach its IdPs on 127.0.0.1 over plain http.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from django.conf import settings

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


def fetch(url: str, *, accept: str) -> bytes:
    check_url(url)
    try:
        with requests.get(
            url,
            headers={"Accept": accept, "User-Agent": "Gatehouse"},
            timeout=settings.SSO_FETCH_TIMEOUT_SECONDS,
            allow_redirects=False,
            stream=True,
        ) as response:
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
