"""How the OpenAPI schema describes OAuth access tokens: one OAuth 2 security scheme (the
client-credentials flow at /o/token/, with every permission of the management API), and on
each operation the permissions its method needs (the view's ``required_scopes``). Operations
that take no token (a person's own endpoints) list the session only."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from provider.api.permissions import required_scopes
from provider.management_api import PERMISSIONS

SCHEME = "oauth2"


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "provider.api.authentication.GatehouseBearerAuthentication"
    name = SCHEME

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "oauth2",
            "description": (
                "An access token for the management API (RFC 8707 resource: the API's "
                "identifier), sent as `Authorization: Bearer <token>`. Backends get one with "
                "client credentials; an app bound to one organization sees only that "
                "organization."
            ),
            "flows": {"clientCredentials": {"tokenUrl": "/o/token/", "scopes": dict(PERMISSIONS)}},
        }

    def get_security_requirement(  # type: ignore[override]
        self, auto_schema: Any
    ) -> dict[str, list[Any]] | None:
        # None (drf-spectacular leaves the scheme off the operation): no token is taken.
        scopes = required_scopes(auto_schema.view, auto_schema.method)
        return None if scopes is None else {SCHEME: scopes}
