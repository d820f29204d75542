"""Fetching URLs that org admins typed in (SAML metadata, OIDC discovery and keys, and the
token and userinfo endpoints allauth calls), and the apps' back-channel logout URIs.

Every call goes through ``config.outbound``: https only, every address the name resolves to
must be public (IPv6 forms hiding a private IPv4 included), the connection is pinned to the
vetted address, no redirects, no environment proxy, one deadline and a size cap. The URL is
vetted when an admin saves it (a clear message) and again before each call, so a name that
resolves to a public address for the check and to a private one later (DNS rebinding) gets
nowhere. These URLs are never operator-owned: the operator's private-network allowance does
not apply to them.
"""

from __future__ import annotations

import io
from typing import Any

import requests
from django.conf import settings
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from config import outbound

MAX_BYTES = settings.SSO_FETCH_MAX_BYTES


class FetchError(Exception):
    """A URL could not or must not be fetched; the message is fit to show an admin."""


def check_url(url: str) -> str:
    """The URL, if Gatehouse may fetch it; FetchError otherwise."""
    try:
        outbound.vet_url(url)
    except outbound.OutboundError as exc:
        raise FetchError(str(exc)) from exc
    return url


def fetch(url: str, *, accept: str) -> bytes:
    """The body of a 200 answer to a GET, at most 1 MB; FetchError otherwise."""
    try:
        answer = outbound.request(
            "GET",
            url,
            headers={"Accept": accept},
            timeout=settings.SSO_FETCH_TIMEOUT_SECONDS,
            max_bytes=MAX_BYTES,
        )
    except outbound.OutboundError as exc:
        raise FetchError(str(exc)) from exc
    if answer.status != 200:
        raise FetchError(f"The server answered {answer.status}.")
    if answer.truncated:
        raise FetchError("The document is larger than 1 MB.")
    return answer.body


def _total_timeout(timeout: Any) -> float:
    """requests' timeout (seconds, or a (connect, read) pair) as one deadline."""
    if isinstance(timeout, tuple):
        return float(sum(part for part in timeout if part is not None)) or float(
            settings.SSO_FETCH_TIMEOUT_SECONDS
        )
    return float(timeout) if timeout else float(settings.SSO_FETCH_TIMEOUT_SECONDS)


class OutboundAdapter(BaseAdapter):
    """A requests transport that sends through ``config.outbound`` (for allauth, which calls
    the IdP with a requests session, and for back-channel logout). The answer is read whole,
    capped at 1 MB, before requests sees it; a redirect is returned as it came."""

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        body = request.body.encode() if isinstance(request.body, str) else request.body
        headers = {
            name: value.decode("latin-1") if isinstance(value, bytes) else value
            for name, value in request.headers.items()
        }
        if body is not None and not isinstance(body, bytes):
            raise requests.RequestException("Only in-memory request bodies are sent.")
        try:
            answer = outbound.request(
                request.method or "GET",
                request.url or "",
                headers=headers,
                body=body,
                timeout=_total_timeout(timeout),
                max_bytes=MAX_BYTES,
            )
        except outbound.Refused as exc:
            raise requests.ConnectionError(str(exc), request=request) from exc
        except outbound.Failed as exc:
            raise requests.ConnectionError(str(exc), request=request) from exc
        if answer.truncated:
            raise requests.ConnectionError("The answer is larger than 1 MB.", request=request)
        return _response(request, answer)

    def close(self) -> None:
        """Nothing is kept open between calls."""


def _response(request: requests.PreparedRequest, answer: outbound.Response) -> requests.Response:
    response = requests.Response()
    response.status_code = answer.status
    response.reason = answer.reason
    response.headers = CaseInsensitiveDict(answer.headers)
    response.encoding = get_encoding_from_headers(response.headers)
    response.url = request.url or ""
    response.request = request
    response.raw = io.BytesIO(answer.body)
    response._content = answer.body  # already read (and capped) by config.outbound
    response._content_consumed = True
    return response


def public_session() -> requests.Session:
    """A requests session whose every call goes through ``config.outbound``."""
    session = requests.Session()
    session.trust_env = False  # an environment proxy would be the peer, not the IdP
    session.max_redirects = 0
    adapter = OutboundAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
