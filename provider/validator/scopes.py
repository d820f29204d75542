"""Which API a request is for (RFC 8707 ``resource`` or ``audience``) and which of its
permissions and OpenID scopes the client may have."""

from __future__ import annotations

from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors

from provider.models import (
    Api,
    ApiAccess,
    Application,
    ApplicationKind,
)
from provider.validator.common import (
    OIDC_SCOPE_NAMES,
    requested_resources,
)
from provider.validator.compiled import CompiledRead, Param

# Every API a client was given, with the API: once per token request that names scopes.
_API_ACCESS = CompiledRead(
    lambda client_pk: ApiAccess.objects.filter(application_id=client_pk).select_related("api"),
    Param("client_pk", int),
)


class ScopeRules(OAuth2Validator):
    def validate_scopes(
        self,
        client_id: str,
        scopes: list[str],
        client: Any,
        request: Any,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        """Whether ``client`` may have ``scopes``, for the one API the request names.

        Sets ``request.api`` (None for an OpenID-only request) and ``request.resource``. An API
        that does not exist, more than one API, or an API the client was not given is
        ``invalid_target`` (RFC 8707); a permission outside the client's access to that API
        or an OpenID scope outside its allowed list is ``invalid_scope`` (False here)."""
        device_grant = getattr(request, "device_grant", None)
        if device_grant is not None:
            # A device's token request gets exactly what the person approved, for the API
            # they approved it for; naming another API while polling changes nothing.
            named = requested_resources(request)
            if named and named != list(request.resource or []):
                raise errors.CustomOAuth2Error(
                    error="invalid_target",
                    description="The device was approved for another resource.",
                    request=request,
                )
            return scopes == device_grant.scope.split()
        api, access = self._resolve_api(client, request, scopes)
        request.api = api
        request.resource = [api.identifier] if api is not None else []
        oidc_allowed = set(client.allowed_scopes or [])
        if client.kind != ApplicationKind.M2M:
            oidc_allowed.add("openid")
        api_allowed = set(access.scopes) if access is not None else set()
        for scope in scopes:
            if scope in OIDC_SCOPE_NAMES:
                if scope not in oidc_allowed or client.kind == ApplicationKind.M2M:
                    return False
            elif scope not in api_allowed:
                return False
        return True

    def _resolve_api(
        self, client: Application, request: Any, scopes: list[str]
    ) -> tuple[Api | None, ApiAccess | None]:
        named = requested_resources(request)
        # oauthlib asks twice per token request (default scopes, then the scopes): read once.
        accesses = getattr(request, "gatehouse_api_access", None)
        if accesses is None or accesses[0] != client.pk:
            accesses = (client.pk, _API_ACCESS.all(client_pk=client.pk))
            request.gatehouse_api_access = accesses
        return self._pick_api(request, named, accesses[1], scopes, client)

    def _pick_api(
        self,
        request: Any,
        named: list[str],
        accesses: list[ApiAccess],
        scopes: list[str],
        client: Application,
    ) -> tuple[Api | None, ApiAccess | None]:
        if len(named) > 1:
            raise errors.CustomOAuth2Error(
                error="invalid_target",
                description="Ask for a token for one API at a time.",
                request=request,
            )
        if named:
            for access in accesses:
                if access.api.identifier == named[0]:
                    return access.api, access
            raise errors.CustomOAuth2Error(
                error="invalid_target",
                description="This client may not ask for tokens for that resource.",
                request=request,
            )
        wants_api = client.kind == ApplicationKind.M2M or any(
            scope not in OIDC_SCOPE_NAMES for scope in scopes
        )
        if not wants_api:
            return None, None
        if len(accesses) == 1:
            return accesses[0].api, accesses[0]
        raise errors.CustomOAuth2Error(
            error="invalid_target",
            description="Name the API the token is for with the resource parameter.",
            request=request,
        )

    def get_default_scopes(
        self, client_id: str, request: Any, *args: Any, **kwargs: Any
    ) -> list[str]:
        """With no ``scope``: OpenID sign-in for people, every granted permission of the named
        API for an M2M client."""
        client = request.client
        if client.kind != ApplicationKind.M2M:
            return ["openid"]
        _api, access = self._resolve_api(client, request, [])
        return list(access.scopes) if access is not None else []
