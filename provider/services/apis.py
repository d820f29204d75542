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


@service
def update_api(
    *,
    actor: Any,
    api: Api,
    name: str | None = None,
    scopes: dict[str, str] | None = None,
    access_token_lifetime: int | None = None,
    introspectors: list[Any] | None = None,
) -> Api:
    """Rename an API, change its permissions, token lifetime or introspectors. Its identifier
    (the ``aud`` of every token already issued) and token format never change here.

    A permission removed from the API is removed from every app's access to it too, so that no
    app keeps asking for something the API no longer defines."""
    api = Api.objects.select_for_update().get(pk=api.pk)
    changed: list[str] = []
    if name is not None and name.strip()[:150] != api.name:
        api.name = name.strip()[:150] or api.identifier
        changed.append("name")
    removed: list[str] = []
    if scopes is not None and _check_scopes(scopes) != api.scopes:
        checked = _check_scopes(scopes)
        removed = sorted(set(api.scopes) - set(checked))
        api.scopes = checked
        changed.append("scopes")
    if access_token_lifetime is not None and access_token_lifetime != api.access_token_lifetime:
        if not 60 <= access_token_lifetime <= 24 * 3600:
            raise Refusal("Access tokens live between one minute and one day.")
        api.access_token_lifetime = access_token_lifetime
        changed.append("access_token_lifetime")
    if changed:
        api.save(update_fields=[*changed, "updated_at"])
    if introspectors is not None and _set_introspectors(api, introspectors):
        changed.append("introspectors")
    _drop_removed_scopes(api, removed)
    if changed:
        record(
            Action.OAUTH_API_UPDATED,
            actor=actor,
            target=api,
            data={"identifier": api.identifier, "changed": changed, "removed_scopes": removed},
        )
    return api


def _set_introspectors(api: Api, introspectors: list[Any]) -> bool:
    wanted = {app.pk for app in introspectors}
    if wanted == set(api.introspectors.values_list("pk", flat=True)):
        return False
    if any(not app.confidential for app in introspectors):
        raise Refusal("Only confidential clients (web, M2M) can introspect tokens.")
    api.introspectors.set(introspectors)
    return True


def _drop_removed_scopes(api: Api, removed: list[str]) -> None:
    from provider.models import ApiAccess

    if not removed:
        return
    for access in ApiAccess.objects.select_for_update().filter(api=api):
        kept = [scope for scope in access.scopes if scope not in removed]
        if kept != access.scopes:
            access.scopes = kept
            access.save(update_fields=["scopes"])
