"""django-oauth-toolkit's settings for Gatehouse, built from the public URL.

DOT's defaults are unsafe for Gatehouse (docs/oauth-provider.md): ten-hour access and ID
tokens, refresh tokens that never expire or rotate, tokens and codes in clear, PBKDF2 client
secrets. Every choice below overrides one of them; ``provider.checks`` refuses to start when a
deployment weakens them.
"""

from __future__ import annotations

from typing import Any

# The OpenID scopes, with the words the consent screen uses. APIs add their own permissions.
OIDC_SCOPES = {
    "openid": "Sign you in",
    "profile": "See your name",
    "email": "See your email address",
    "offline_access": "Stay signed in when you are away",
    "organization": "See which organization you signed in to and your role in it",
}

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def token_expires_in(request: Any) -> int:
    """oauthlib's lifetime hook; imported late, since settings load before any model."""
    from provider.tokens import token_expires_in as per_api

    return per_api(request)


def oauth2_provider(
    public_url: str,
    *,
    access_token_seconds: int,
    refresh_idle_seconds: int,
    self_registration: bool = False,
) -> dict[str, Any]:
    return {
        "OAUTH2_VALIDATOR_CLASS": "provider.validator.GatehouseValidator",
        "SCOPES_BACKEND_CLASS": "provider.scopes.GatehouseScopes",
        "SCOPES": dict(OIDC_SCOPES),
        "DEFAULT_SCOPES": ["openid"],
        "OIDC_ENABLED": True,
        # The issuer is Gatehouse's public URL, the same string discovery, ID tokens and the
        # RFC 9207 iss parameter carry (DOT's default is <host>/o, which matches none of them).
        "OIDC_ISS_ENDPOINT": public_url,
        "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
        "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
        "OAUTH2_GRANT_TYPES_SUPPORTED": [
            "authorization_code",
            "client_credentials",
            "refresh_token",
            DEVICE_CODE_GRANT,
        ],
        "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "PKCE_REQUIRED": True,
        "ALLOW_URI_WILDCARDS": False,
        "ALLOW_LOCALHOST_LOOPBACK": False,
        # Narrowed per application kind by Application.get_allowed_schemes().
        "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"],
        "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
        "ACCESS_TOKEN_EXPIRE_SECONDS": access_token_seconds,
        "ID_TOKEN_EXPIRE_SECONDS": access_token_seconds,
        "REFRESH_TOKEN_EXPIRE_SECONDS": refresh_idle_seconds,
        "ROTATE_REFRESH_TOKEN": True,
        "REFRESH_TOKEN_REUSE_PROTECTION": True,
        "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
        "ACCESS_TOKEN_GENERATOR": "provider.tokens.generate_access_token",
        # Without it oauthlib makes refresh tokens with the access-token generator (JWTs).
        "REFRESH_TOKEN_GENERATOR": "oauthlib.oauth2.rfc6749.tokens.random_token_generator",
        # Each access token lives as long as its API says (provider.tokens).
        "EXTRA_SERVER_KWARGS": {"token_expires_in": token_expires_in},
        "REQUEST_APPROVAL_PROMPT": "force",
        "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
        "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
        "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,
        "OIDC_RP_INITIATED_LOGOUT_ACCEPT_EXPIRED_TOKENS": True,
        "OIDC_RP_INITIATED_LOGOUT_DELETE_TOKENS": False,
        "OIDC_JWKS_MAX_AGE_SECONDS": 3600,
        "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
        "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
        "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
        "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
        "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
        "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
        "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
        "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
        "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
        "OAUTH_DEVICE_VERIFICATION_URI": public_url + "/device",
        "DEVICE_FLOW_INTERVAL": 5,
        # DOT's default pre-token hook looks the device code up unchecked (a 500 when it is
        # missing or unknown); provider.device sets the user once the code is claimed.
        "OAUTH_PRE_TOKEN_VALIDATION": [],
        "DCR_ENABLED": False,
        # Client ID Metadata Documents (provider/cimd.py): on only under an operator policy.
        "CIMD_ENABLED": self_registration,
        "CIMD_REGISTRATION_PERMISSION_CLASSES": ("provider.cimd.OperatorPolicyPermission",),
    }
