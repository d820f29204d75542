"""Helpers for the authorization-code tests: PKCE pairs, authorize URLs, the code out of the
redirect, the token request."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from django.test import Client

AUTHORIZE = "/o/authorize/"
TOKEN = "/o/token/"
WEB_CALLBACK = "https://app.example.com/callback"
SPA_CALLBACK = "https://spa.example.com/cb"


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class Attempt:
    """One authorization request's parameters and its PKCE verifier."""

    client_id: str
    redirect_uri: str
    scope: str = "openid"
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    state: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    extra: dict[str, Any] = field(default_factory=dict)

    def params(self, **changes: Any) -> dict[str, Any]:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": challenge_of(self.verifier),
            "code_challenge_method": "S256",
            **self.extra,
        }
        params.update(changes)
        return {key: value for key, value in params.items() if value is not None}

    def url(self, **changes: Any) -> str:
        return f"{AUTHORIZE}?{urlencode(self.params(**changes), doseq=True)}"


def query_of(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def authorize(client: Client, attempt: Attempt, **changes: Any) -> Any:
    return client.get(attempt.url(**changes))


def code_from(response: Any, attempt: Attempt) -> str:
    assert response.status_code == 302, getattr(response, "content", b"")[:800]
    location = response["Location"]
    assert location.startswith(attempt.redirect_uri + "?"), location
    query = query_of(location)
    assert query.get("state") == attempt.state
    assert "code" in query, query
    return query["code"]


def redeem(
    client: Client, attempt: Attempt, code: str, *, auth: str | None = None, **body: Any
) -> Any:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": attempt.redirect_uri,
        "code_verifier": attempt.verifier,
        "client_id": attempt.client_id,
        **body,
    }
    data = {key: value for key, value in data.items() if value is not None}
    if auth:
        return client.post(TOKEN, data, HTTP_AUTHORIZATION=auth)
    return client.post(TOKEN, data)


def refresh(
    client: Client, client_id: str, token: str, *, auth: str | None = None, **body: Any
) -> Any:
    data = {"grant_type": "refresh_token", "refresh_token": token, "client_id": client_id, **body}
    if auth:
        return client.post(TOKEN, data, HTTP_AUTHORIZATION=auth)
    return client.post(TOKEN, data)


RECORDS_KEY = "account_authentication_methods"


def add_record(client: Client, **record: Any) -> None:
    """Add an authentication record to the client's session, as allauth does after a factor
    (the factor itself is accounts' business and tested there)."""
    import time

    session = client.session
    records = list(session.get(RECORDS_KEY) or [])
    records.append({"at": time.time(), **record})
    session[RECORDS_KEY] = records
    session.save()


def age_records(client: Client, seconds: int) -> None:
    """Make every authentication of the session ``seconds`` older."""
    session = client.session
    session[RECORDS_KEY] = [
        {**record, "at": record["at"] - seconds} for record in session.get(RECORDS_KEY) or []
    ]
    session.save()
