"""Registering APIs (resource servers) and their permissions."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from audit.actions import Action
from audit.services import record
from config.refusals import Refusal, service
from provider.models import Api, TokenFormat

SCOPE_NAME = re.compile(r"^[a-z][a-z0-9_.-]*(:[a-z0-9_.-]+)*$")


def _check_identifier(identifier: str) -> str:
    parts = urlsplit(identifier)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.fragment:
        raise Refusal("An API's identifier is an absolute URL, e.g. https://api.example.com/.")
    return identifier


def _check_scopes(scopes: dict[str, str]) -> dict[str, str]:
    for name in scopes:
        if not SCOPE_NAME.match(name) or name in ("openid", "offline_access"):
            raise Refusal(f"{name!r} cannot name a permission (e.g. invoices:read).")
    return {name: str(description)[:200] for name, description in scopes.items()}


@service
def create_api(
    *,
    actor: Any,
    identifier: str,
    name: str,
    scopes: dict[str, str],
    access_token_lifetime: int = 600,
    token_format: str = TokenFormat.JWT,
    signing_alg: str = "RS256",
) -> Api:
    if not 60 <= access_token_lifetime <= 24 * 3600:
        raise Refusal("Access tokens live between one minute and one day.")
    if token_format not in TokenFormat.values:
        raise Refusal("Token format is jwt or opaque.")
    if signing_alg not in ("RS256", "ES256"):
        raise Refusal("Tokens are signed with RS256 or ES256.")
    identifier = _check_identifier(identifier)
    if Api.objects.filter(identifier=identifier).exists():
        raise Refusal("An API with that identifier exists.", status=409)
    api = Api.objects.create(
        identifier=identifier,
        name=name.strip()[:150] or identifier,
        scopes=_check_scopes(scopes),
        access_token_lifetime=access_token_lifetime,
        token_format=token_format,
        signing_alg=signing_alg,
    )
    record(Action.OAUTH_API_CREATED, actor=actor, target=api, data={"identifier": identifier})
    return api
