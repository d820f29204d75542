"""What the validator's parts share."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from oauthlib.oauth2.rfc6749 import errors

OIDC_SCOPE_NAMES = frozenset(settings.OAUTH2_PROVIDER["SCOPES"])
AUTH_CONTEXT_FIELDS = ("sid", "auth_time", "amr", "acr", "organization_id", "act_sub")


def requested_resources(request: Any) -> list[str]:
    """Every API the request names, by ``resource`` (repeatable) or ``audience``."""
    named: list[str] = []
    resource = getattr(request, "resource", None)
    if isinstance(resource, str):
        named.append(resource)
    elif isinstance(resource, list | tuple):
        named.extend(resource)
    for key, value in getattr(request, "decoded_body", None) or []:
        if key in ("resource", "audience"):
            named.append(value)
    audience = getattr(request, "audience", None)
    if isinstance(audience, str):
        named.append(audience)
    return [value for value in dict.fromkeys(named) if value]


class RefusedWhileSaving(errors.InvalidGrantError):
    """``invalid_grant`` raised while saving, past the point where oauthlib adds the token
    endpoint's JSON headers: DOT answers with the error's own headers, so they are here."""

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "Cache-Control": "no-store",
            "Pragma": "no-cache",
        }


def issuance(client: Any, request: Any, token: dict[str, Any], api: Any) -> dict[str, Any]:
    """What the audit event of an issuance says (never the token)."""
    return {
        "client_id": client.client_id,
        "grant_type": request.grant_type,
        "scopes": token.get("scope", ""),
        "api": api.identifier if api is not None else "",
        "refresh": "refresh_token" in token,
    }


def may_act(user: Any) -> bool:
    """Whether tokens may still be issued for this person (not blocked, not deactivated)."""
    return user is None or (user.is_active and not getattr(user, "is_blocked", False))


def stamp_of(request: Any) -> dict[str, Any]:
    """What every token of a request carries besides its value: the API it is for and how the
    person signed in."""
    context = getattr(request, "auth_context", None) or {}
    return {
        "api": getattr(request, "api", None),
        **{field: value for field, value in context.items() if value is not None},
    }
