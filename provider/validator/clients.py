"""Who the client is and what its kind lets it do: HMAC client authentication, grants and
response types by kind, and the per-client token quota."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote_plus

from django.conf import settings
from django.utils import timezone
from oauth2_provider import cimd as dot_cimd
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors

from accounts.ratelimits import Limit, spend
from config import secrets
from provider import cimd
from provider.models import (
    Application,
)
from provider.models.applications import CONFIDENTIAL_KINDS, GRANTS_BY_KIND, SELF_REGISTERED_GRANTS
from provider.validator.compiled import CompiledRead, Param

_APPLICATION = CompiledRead(
    lambda client_id: Application.objects.filter(client_id=client_id), Param("client_id")
)


class ClientRules(OAuth2Validator):
    # --- Client authentication -------------------------------------------------------------

    def _basic_credentials(self, request: Any) -> tuple[str, str] | None:
        auth_string = self._extract_basic_auth(request)
        if not auth_string:
            return None
        try:
            decoded = base64.b64decode(auth_string, validate=True).decode("utf-8")
            client_id, client_secret = map(unquote_plus, decoded.split(":", 1))
        except (TypeError, ValueError, binascii.Error, UnicodeDecodeError):
            return ("", "")
        return client_id, client_secret

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        basic = self._basic_credentials(request)
        body_secret = getattr(request, "client_secret", None)
        if basic is not None and body_secret:
            return False  # RFC 6749 2.3: one authentication method per request
        if basic is not None:
            client_id, secret = basic
            if getattr(request, "client_id", None) not in (None, "", client_id):
                return False
        else:
            client_id = getattr(request, "client_id", None) or ""
            secret = body_secret or ""
        if not client_id or not secret:
            return False
        client = self._load_application(client_id, request)
        if client is None or client.kind not in CONFIDENTIAL_KINDS:
            return False
        if secrets.matches(secret, key_id=client.secret_key_id, digest=client.secret_digest):
            return True
        expires = client.previous_secret_expires_at
        return bool(
            expires
            and expires > timezone.now()
            and secrets.matches(
                secret, key_id=client.previous_secret_key_id, digest=client.previous_secret_digest
            )
        )

    def _load_application(self, client_id: str, request: Any) -> Application | None:
        """The client, read once per request through a statement compiled once per process
        (provider.validator.compiled): DOT's ``objects.get`` cost more CPU to build than the
        database took to answer. Otherwise DOT's steps: the one already on the request, a
        client ID metadata document for an unknown URL id, a stale document fetched again,
        a disabled client refused."""
        if not isinstance(client_id, str) or not client_id or "\x00" in client_id:
            return None
        cached = getattr(request, "client", None)
        if isinstance(cached, Application) and cached.client_id == client_id:
            return cached if cached.is_usable(request) else None
        client = _APPLICATION.first(client_id=client_id)
        if client is None:
            client = dot_cimd.resolve_cimd_application(client_id, request=request)
        else:
            client = dot_cimd.refresh_if_stale(client, request=request)
        if client is None or not client.is_usable(request):
            return None
        request.client = client
        return client  # type: ignore[no-any-return]

    # --- What a client may ask for ------------------------------------------------------------

    def validate_grant_type(
        self, client_id: str, grant_type: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """Whether the client's kind allows this grant; and, since oauthlib asks this only of
        a client that has authenticated, where its token requests are counted: a quota keyed
        by an id anyone could claim would let anyone exhaust it."""
        if grant_type not in GRANTS_BY_KIND.get(request.client.kind, ()):
            return False
        if cimd.is_self_registered(request.client) and grant_type not in SELF_REGISTERED_GRANTS:
            return False
        spent = spend(
            f"oauth-token:{request.client.client_id}",
            Limit(settings.GATEHOUSE_OAUTH_TOKEN_REQUESTS_PER_MINUTE, 60),
        )
        if not spent.allowed:
            raise errors.CustomOAuth2Error(
                error="slow_down",
                description="Too many token requests; wait a minute.",
                status_code=429,
                request=request,
            )
        return True

    def validate_response_type(
        self,
        client_id: str,
        response_type: str,
        client: Any,
        request: Any,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        """Only ``code``, for the kinds that may use the authorization code. (DOT compares its
        own grant column, spelt ``authorization-code``, which Gatehouse does not use.)"""
        return response_type == "code" and "authorization_code" in GRANTS_BY_KIND.get(
            client.kind, ()
        )
