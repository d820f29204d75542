"""Authorization codes claimed once, refresh tokens with an absolute deadline and refused for
blocked people, and how tokens are written (stamped with the sign-in's context, audited)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors

from accounts import login_writes
from audit.actions import Action
from audit.services import build as build_event
from audit.services import record
from provider.models import (
    AccessToken,
    Grant,
    IDToken,
    ProviderSession,
    RefreshToken,
)
from provider.services.revocation import revoke_code_family
from provider.validator.common import (
    AUTH_CONTEXT_FIELDS,
    RefusedWhileSaving,
    issuance,
    may_act,
    requested_resources,
    stamp_of,
)


class TokenRules(OAuth2Validator):
    # --- Authorization codes ---------------------------------------------------------------------

    def validate_code(
        self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """Claim the code: one conditional UPDATE, so of two racing requests only one wins and
        no token is ever minted from a code already used. A used code presented again revokes
        every token issued from it (RFC 6749 4.1.2, OAuth 2.1 4.1.3)."""
        if not isinstance(code, str) or not code:
            return False
        now = timezone.now()
        claimed = Grant.objects.filter(
            code=code, application=client, used_at__isnull=True, expires__gt=now
        ).update(used_at=now)
        if not claimed:
            used = (
                Grant.objects.filter(code=code, application=client, used_at__isnull=False)
                .values_list("family", flat=True)
                .first()
            )
            if used is not None:
                revoke_code_family(family=used, client_id=client.client_id)
            return False
        grant = Grant.objects.select_related("user", "api").get(code=code, application=client)
        if not may_act(grant.user) or _session_ended(grant):
            return False
        named = requested_resources(request)
        if named and named != list(grant.resource or []):
            # RFC 8707 lets a token request narrow the resource; a code is for one API (or
            # none), so anything else named here is another resource.
            raise errors.CustomOAuth2Error(
                error="invalid_target",
                description="The code was issued for another resource.",
                request=request,
            )
        request.resource = list(grant.resource or [])
        request.scopes = grant.scope.split()
        request.user = grant.user
        if grant.nonce:
            request.nonce = grant.nonce
        if grant.claims:
            request.claims = json.loads(grant.claims)
        request.api = grant.api
        request.family = grant.family
        request.auth_context = {field: getattr(grant, field) for field in AUTH_CONTEXT_FIELDS}
        return True

    def invalidate_authorization_code(
        self, client_id: str, code: str, request: Any, *args: Any, **kwargs: Any
    ) -> None:
        """Nothing to do: ``validate_code`` claimed the code before any token was made, and the
        used row is kept so that a replay can be recognised and punished."""

    def _create_authorization_code(
        self, request: Any, code: dict[str, str], expires: Any = None
    ) -> Grant:
        if request.code_challenge_method != "S256":
            raise errors.InvalidRequestError(
                description='PKCE with code_challenge_method "S256" is required.', request=request
            )
        if not expires:
            expires = timezone.now() + timedelta(
                seconds=settings.OAUTH2_PROVIDER["AUTHORIZATION_CODE_EXPIRE_SECONDS"]
            )
        context = getattr(request, "auth_context", None) or {}
        api = getattr(request, "api", None)
        return Grant.objects.create(
            application=request.client,
            user=request.user,
            code=code["code"],
            expires=expires,
            redirect_uri=request.redirect_uri,
            scope=" ".join(request.scopes),
            code_challenge=request.code_challenge or "",
            code_challenge_method=request.code_challenge_method or "",
            nonce=request.nonce or "",
            claims=json.dumps(request.claims or {}),
            resource=[api.identifier] if api is not None else [],
            api=api,
            family=uuid.uuid4(),
            **{field: value for field, value in context.items() if value is not None},
        )

    # --- Tokens -------------------------------------------------------------------------------

    def _create_access_token(
        self, expires: Any, request: Any, token: dict[str, Any], source_refresh_token: Any = None
    ) -> AccessToken:
        # The ID token finalize_id_token saved a moment ago for this response (DOT parses the
        # JWT again, checks its signature and reads the row back by jti).
        id_token = getattr(request, "id_token", None) if token.get("id_token") else None
        access_token = AccessToken(
            user=request.user,
            scope=token["scope"],
            expires=expires,
            id_token=id_token if isinstance(id_token, IDToken) else None,
            application=request.client,
            source_refresh_token=source_refresh_token,
            resource=getattr(request, "resource", None) or [],
            family=getattr(request, "family", None),
            jti=getattr(request, "jti", "") or "",
            **stamp_of(request),
        )
        self._set_token_value(access_token, token["access_token"])
        access_token.save()
        return access_token

    def _create_refresh_token(
        self, request: Any, refresh_token_code: str, access_token: Any, previous_refresh_token: Any
    ) -> RefreshToken:
        if previous_refresh_token:
            family = previous_refresh_token.token_family
            deadline = previous_refresh_token.family_expires_at
        else:
            family = getattr(request, "family", None) or uuid.uuid4()
            deadline = timezone.now() + timedelta(
                seconds=settings.GATEHOUSE_OAUTH_REFRESH_ABSOLUTE_SECONDS
            )
        refresh_token = RefreshToken(
            user=request.user,
            application=request.client,
            access_token=access_token,
            token_family=family,
            family_expires_at=deadline,
            resource=getattr(request, "resource", None) or [],
            **stamp_of(request),
        )
        self._set_token_value(refresh_token, refresh_token_code)
        refresh_token.save()
        return refresh_token

    def save_bearer_token(
        self, token: dict[str, Any], request: Any, *args: Any, **kwargs: Any
    ) -> None:
        if request.grant_type == "client_credentials" and "refresh_token" not in token:
            self._save_client_token(token, request)
            return
        if request.grant_type == "refresh_token" and "refresh_token" in token:
            self.rotate(token, request)  # provider.validator.refresh: one statement
            return
        super().save_bearer_token(token, request, *args, **kwargs)

    def _save_client_token(self, token: dict[str, Any], request: Any) -> None:
        """A client-credentials token and its audit event, in one statement (one round trip,
        atomic without a transaction around it): the grant M2M backends call most."""
        client = request.client
        api = getattr(request, "api", None)
        request.user = None
        access_token = AccessToken(
            user=None,
            scope=token["scope"],
            expires=timezone.now()
            + timedelta(
                seconds=token.get(
                    "expires_in", settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]
                )
            ),
            application=client,
            resource=[api.identifier] if api is not None else [],
            jti=getattr(request, "jti", "") or "",
            api=api,
            organization_id=client.organization_id,
        )
        self._set_token_value(access_token, token["access_token"])
        event = build_event(
            Action.OAUTH_TOKEN_ISSUED,
            actor_text=f"client {client.client_id}",
            organization=client.organization_id,
            data=issuance(client, request, token, api),
        )
        login_writes.write(last_login=None, rows=[access_token, event])

    def _save_bearer_token(
        self, token: dict[str, Any], request: Any, *args: Any, **kwargs: Any
    ) -> None:
        family = getattr(request, "family", None)
        if request.grant_type == "authorization_code" and family is not None:
            # Lock the code's row while its tokens are saved. A replay of the code marks the
            # row before it revokes (provider.services.revocation): if it came first, nothing
            # is issued; if it comes now, it waits for this commit and then revokes these.
            replayed = (
                Grant.objects.select_for_update()
                .filter(family=family)
                .values_list("replayed_at", flat=True)
                .first()
            )
            if replayed is not None:
                raise RefusedWhileSaving(description="The code was used twice.", request=request)
        super()._save_bearer_token(token, request, *args, **kwargs)
        api = getattr(request, "api", None)
        user = request.user if getattr(request.user, "is_authenticated", False) else None
        record(
            Action.OAUTH_TOKEN_ISSUED,
            actor=user,
            actor_text="" if user else f"client {request.client.client_id}",
            organization=request.client.organization_id,
            data=issuance(request.client, request, token, api),
        )


def _session_ended(grant: Grant) -> bool:
    """The person signed out of the browser session the code was issued in before it was
    redeemed: its tokens would outlive the sign-out that ended their siblings. A code for
    ``offline_access`` is meant to outlive it."""
    if not grant.sid or "offline_access" in grant.scope.split():
        return False
    return ProviderSession.objects.filter(sid=grant.sid, ended_at__isnull=False).exists()
