"""OpenID Connect: silent sign-in, ``id_token_hint``, claims, ID tokens signed with the
database keys."""

from __future__ import annotations

import json
import time
from typing import Any

from django.conf import settings
from jwcrypto import jws, jwt
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.openid.connect.core.exceptions import InteractionRequired

from accounts.mfa import policy
from provider import keys, signin
from provider.claims import (
    CLAIM_SCOPES,
    id_token_context,
    organization_claims,
    person_claims,
    profile_claim_scopes,
    profile_claims,
    read_id_token,
)
from provider.models import (
    AccessToken,
    IDToken,
)
from provider.services.authorizations import covers
from provider.validator.common import (
    AUTH_CONTEXT_FIELDS,
)


class OpenIDRules(OAuth2Validator):
    # --- Silent sign-in, id_token_hint (OIDC Core 3.1.2.1) --------------------------------------

    def validate_silent_login(self, request: Any) -> bool:
        """prompt=none: the browser is signed in, recently enough for ``max_age``, and strongly
        enough for ``acr_values`` (else ``interaction_required``: a step-up, or a second
        factor to set up, is needed)."""
        http = signin.current_request()
        user = getattr(http, "user", None)
        if http is None or not getattr(user, "is_authenticated", False):
            return False
        sign_in = signin.sign_in_of(http, user)
        max_age = parse_max_age(getattr(request, "max_age", None))
        if max_age is not None and not sign_in.authenticated_since(time.time() - max_age):
            return False
        if wants_mfa(getattr(request, "acr_values", None)) and not sign_in.has_mfa:
            # A step-up, or setting up a first second factor: either is the person's to do.
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

    def get_oidc_claims(self, token: Any, token_handler: Any, request: Any) -> dict[str, Any]:
        """DOT's filter of the claims by the granted scopes, with the operator's profile
        fields' claims added to the scope table (read once here: DOT would read the table
        twice per claim). A custom field cannot take over a fixed claim such as ``email``."""
        scope_of = {**profile_claim_scopes(), **CLAIM_SCOPES}
        granted = set(request.scopes or [])
        return {
            name: value(request) if callable(value) else value
            for name, value in self.get_claim_dict(request).items()
            if scope_of.get(name) in granted
        }

    def get_oidc_issuer_endpoint(self, request: Any) -> str:
        """The issuer is the public URL, exactly: discovery, ID tokens and iss agree."""
        return str(settings.GATEHOUSE_PUBLIC_URL)

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        # The profile fields' answers first: a display name the person set wins over a name
        # field, and no custom field can stand in for a fixed claim.
        claims = profile_claims(request.user)
        claims.update({k: v for k, v in person_claims(request.user).items() if v is not None})
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
        """The ID token's row, with its OIDC session. A refresh grant's is only built here:
        the rotation inserts it with the grant's other rows, in one statement, and only if
        the refresh token was still there to spend (provider.validator.refresh)."""
        id_token = IDToken(
            user=request.user,
            scope=request.scope or " ".join(request.scopes),
            expires=expires,
            jti=jti,
            application=request.client,
            sid=_auth_context(request).get("sid") or "",
        )
        if request.grant_type == "refresh_token":
            request.pending_id_token = id_token
        else:
            id_token.save(force_insert=True)
        return id_token

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
