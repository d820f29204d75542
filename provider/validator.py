"""Gatehouse's rules on top of DOT's validator (docs/oauth-provider.md, sections 2-6).

- Clients authenticate with an HMAC of their secret, never the password hasher, and only the
  kinds that have a secret (web, M2M) may; a client presenting both Basic and body credentials
  is refused.
- Each grant is allowed by the application's kind, not by DOT's single grant column.
- A token is for at most one API: ``resource`` (RFC 8707) or ``audience`` names it, the
  application must have been given access to it, and the API's permissions are capped at
  what that access lists. ``request.api`` then sets the audience, format and lifetime.
- An authorization code is claimed (``used_at``) in one conditional UPDATE before any token is
  minted; presenting it again revokes every token issued from it.
- Refresh-token families have an absolute deadline on top of DOT's idle limit.
- ``sub`` is the person's public id, never the database key.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus

from django.conf import settings
from django.utils import timezone
from jwcrypto import jws, jwt
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.openid.connect.core.exceptions import InteractionRequired

from accounts import login_writes
from accounts.mfa import policy
from accounts.ratelimits import Limit, spend
from audit.actions import Action
from audit.services import build as build_event
from audit.services import record
from provider import cimd, keys, secrets, signin
from provider.claims import (
    CLAIM_SCOPES,
    id_token_context,
    organization_claims,
    person_claims,
    read_id_token,
)
from provider.device import DeviceCodeValidation
from provider.models import (
    AccessToken,
    Api,
    ApiAccess,
    Application,
    ApplicationKind,
    Grant,
    IDToken,
    RefreshToken,
)
from provider.models.applications import CONFIDENTIAL_KINDS, GRANTS_BY_KIND, SELF_REGISTERED_GRANTS
from provider.services.authorizations import covers
from provider.services.revocation import revoke_code_family

OIDC_SCOPE_NAMES = frozenset(settings.OAUTH2_PROVIDER["SCOPES"])
AUTH_CONTEXT_FIELDS = ("sid", "auth_time", "amr", "acr", "organization_id")


def _requested_resources(request: Any) -> list[str]:
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


def _issuance(client: Any, request: Any, token: dict[str, Any], api: Any) -> dict[str, Any]:
    """What the audit event of an issuance says (never the token)."""
    return {
        "client_id": client.client_id,
        "grant_type": request.grant_type,
        "scopes": token.get("scope", ""),
        "api": api.identifier if api is not None else "",
        "refresh": "refresh_token" in token,
    }


def _may_act(user: Any) -> bool:
    """Whether tokens may still be issued for this person (not blocked, not deactivated)."""
    return user is None or (user.is_active and not getattr(user, "is_blocked", False))


class GatehouseValidator(DeviceCodeValidation, OAuth2Validator):
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
        if not isinstance(client_id, str) or not client_id or "\x00" in client_id:
            return None
        return super()._load_application(client_id, request)  # type: ignore[no-any-return]

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
            named = _requested_resources(request)
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
        named = _requested_resources(request)
        # oauthlib asks twice per token request (default scopes, then the scopes): read once.
        accesses = getattr(request, "gatehouse_api_access", None)
        if accesses is None or accesses[0] != client.pk:
            accesses = (
                client.pk,
                list(ApiAccess.objects.filter(application=client).select_related("api")),
            )
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
        if not _may_act(grant.user):
            return False
        named = _requested_resources(request)
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

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        rt = request.refresh_token_instance
        if rt.family_expires_at is not None and rt.family_expires_at <= timezone.now():
            return False
        if not _may_act(rt.user):
            return False
        if rt.api_id is not None:
            # The operator may since have taken the API, or some of its permissions, away.
            access = ApiAccess.objects.filter(application=client, api_id=rt.api_id).first()
            granted = set(rt.access_token.scope.split()) if rt.access_token else set()
            if access is None or not (granted - OIDC_SCOPE_NAMES) <= set(access.scopes):
                return False
        request.api = rt.api
        request.family = rt.token_family
        request.family_expires_at = rt.family_expires_at
        request.auth_context = {field: getattr(rt, field) for field in AUTH_CONTEXT_FIELDS}
        return True

    def _stamp(self, request: Any) -> dict[str, Any]:
        context = getattr(request, "auth_context", None) or {}
        return {
            "api": getattr(request, "api", None),
            **{field: value for field, value in context.items() if value is not None},
        }

    def _create_access_token(
        self, expires: Any, request: Any, token: dict[str, Any], source_refresh_token: Any = None
    ) -> AccessToken:
        id_token = token.get("id_token")
        access_token = AccessToken(
            user=request.user,
            scope=token["scope"],
            expires=expires,
            id_token=self._load_id_token(id_token) if id_token else None,
            application=request.client,
            source_refresh_token=source_refresh_token,
            resource=getattr(request, "resource", None) or [],
            family=getattr(request, "family", None),
            jti=getattr(request, "jti", "") or "",
            **self._stamp(request),
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
            **self._stamp(request),
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
            data=_issuance(client, request, token, api),
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
        previous = getattr(request, "refresh_token_instance", None)
        if previous is not None and "refresh_token" in token:
            # Lock the refresh token being spent and read it again: a revocation (blocking,
            # sign-out, Remove access) that committed after validate_refresh_token read it
            # must win. DOT locks it too but never looks at ``revoked`` again, so it would mint
            # a fresh pair for a person blocked a moment ago (provider.services.revocation).
            live = RefreshToken.objects.select_for_update().filter(
                pk=previous.pk, revoked__isnull=True
            )
            if not live.exists():
                raise RefusedWhileSaving(request=request)
        super()._save_bearer_token(token, request, *args, **kwargs)
        api = getattr(request, "api", None)
        user = request.user if getattr(request.user, "is_authenticated", False) else None
        record(
            Action.OAUTH_TOKEN_ISSUED,
            actor=user,
            actor_text="" if user else f"client {request.client.client_id}",
            organization=request.client.organization_id,
            data=_issuance(request.client, request, token, api),
        )

    # --- Silent sign-in, id_token_hint (OIDC Core 3.1.2.1) --------------------------------------

    def validate_silent_login(self, request: Any) -> bool:
        """prompt=none: the browser is signed in, recently enough for ``max_age``, and strongly
        enough for ``acr_values`` (else ``interaction_required``: a step-up is needed)."""
        http = signin.current_request()
        user = getattr(http, "user", None)
        if http is None or not getattr(user, "is_authenticated", False):
            return False
        sign_in = signin.sign_in_of(http, user)
        max_age = parse_max_age(getattr(request, "max_age", None))
        if max_age is not None and not sign_in.authenticated_since(time.time() - max_age):
            return False
        if (
            wants_mfa(getattr(request, "acr_values", None))
            and not sign_in.has_mfa
            and can_step_up_to_mfa(user)
        ):
            raise InteractionRequired(description="A second factor is needed.", request=request)
        return True

    def validate_silent_authorization(self, request: Any) -> bool:
        """prompt=none: a first-party app, or one the person already allowed these scopes."""
        http = signin.current_request()
        client = request.client
        if client.first_party:
            return True
        if http is None:
            return False
        organization = getattr(http, "provider_organization", None)
        return covers(
            user=http.user,
            application=client,
            scopes=list(request.scopes or []),
            organization=organization,
        )

    def validate_user_match(
        self, id_token_hint: str, scopes: Any, claims: Any, request: Any
    ) -> bool:
        """An ``id_token_hint`` must be an ID token Gatehouse issued (expired is fine) for the
        person signed in now; before sign-in it is checked again when the person is back."""
        if not id_token_hint:
            return True
        hinted = read_id_token(id_token_hint, accept_expired=True)
        if hinted is None:
            return False
        http = signin.current_request()
        user = getattr(http, "user", None)
        if user is None or not user.is_authenticated:
            return True
        return bool(hinted.get("sub") == str(user.public_id))

    # --- OpenID claims -------------------------------------------------------------------------

    oidc_claim_scope = CLAIM_SCOPES

    def get_oidc_issuer_endpoint(self, request: Any) -> str:
        """The issuer is the public URL, exactly: discovery, ID tokens and iss agree."""
        return str(settings.GATEHOUSE_PUBLIC_URL)

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        claims = person_claims(request.user)
        context = _auth_context(request)
        claims.update(organization_claims(request.user, context.get("organization_id")))
        return {name: value for name, value in claims.items() if value is not None}

    def get_claim_dict(self, request: Any) -> dict[str, Any]:
        claims = super().get_claim_dict(request)
        claims["sub"] = str(request.user.public_id)
        return claims  # type: ignore[no-any-return]

    def get_id_token_dictionary(
        self, token: Any, token_handler: Any, request: Any
    ) -> tuple[dict[str, Any], Any]:
        """DOT's claims with the authentication context of the code or refresh token (DOT
        takes ``auth_time`` from ``last_login``, which another browser's login moves)."""
        claims, expiration = super().get_id_token_dictionary(token, token_handler, request)
        claims.pop("auth_time", None)
        claims.update(id_token_context(_auth_context(request)))
        return claims, expiration

    def finalize_id_token(
        self, id_token: dict[str, Any], token: Any, token_handler: Any, request: Any
    ) -> str:
        """DOT's body, signed by the database's active key for the app's algorithm, with its
        ``kid`` in the header (DOT signs with ``OIDC_RSA_PRIVATE_KEY``, which is empty)."""
        claims, expiration_time = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**claims)
        if "nonce" not in id_token and request.nonce:
            id_token["nonce"] = request.nonce
        key = keys.active_key(request.client.algorithm)
        signed = jwt.JWT(
            header={"typ": "JWT", "alg": key.alg, "kid": key.kid},
            claims=json.dumps(id_token, default=str),
        )
        signed.make_signed_token(key.private)
        saved = self._save_id_token(id_token["jti"], request, expiration_time)
        request.access_token = saved
        request.id_token = saved
        return str(signed.serialize())

    def _save_id_token(
        self, jti: Any, request: Any, expires: Any, *args: Any, **kwargs: Any
    ) -> Any:
        saved = super()._save_id_token(jti, request, expires, *args, **kwargs)
        sid = _auth_context(request).get("sid")
        if sid:
            type(saved).objects.filter(pk=saved.pk).update(sid=sid)
            saved.sid = sid
        return saved

    def _get_key_for_token(self, token: str) -> Any:
        """The published keys (jwcrypto picks one by ``kid``), for a token whose ``aud`` is a
        registered client; None otherwise."""
        unverified = jws.JWS()
        unverified.deserialize(token)
        claims = json.loads(unverified.objects["payload"].decode("utf-8"))
        audience = claims.get("aud") if isinstance(claims, dict) else None
        if not audience or self._get_client_by_audience(audience) is None:
            return None
        return keys.public_keyset()

    def _load_id_token(self, token: str) -> Any:
        claims = read_id_token(token, accept_expired=False)
        if claims is None:
            return None
        return IDToken.objects.filter(jti=claims.get("jti")).first()


def _auth_context(request: Any) -> dict[str, Any]:
    """How the person signed in: from the code or refresh token being redeemed, or, at
    userinfo, from the access token presented."""
    context = getattr(request, "auth_context", None)
    if context:
        return dict(context)
    access_token = getattr(request, "access_token", None)
    if isinstance(access_token, AccessToken):
        return {field: getattr(access_token, field) for field in AUTH_CONTEXT_FIELDS}
    return {}


def parse_max_age(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def wants_mfa(acr_values: Any) -> bool:
    """Whether ``acr_values`` asks for a second factor."""
    return signin.MFA_ACR in str(acr_values or "").split()


def can_step_up_to_mfa(user: Any) -> bool:
    """Whether the person has a second factor a step-up would ask for."""
    return bool(policy.enrolled_kinds(user) - {policy.Kind.PASSWORD})
