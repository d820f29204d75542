"""django-oauth-toolkit's settings for Gatehouse, built from the public URL.

DOT's defaults are unsafe for Gatehouse (docs/oauth-provider.md): ten-hour access and ID
tokens, refresh tokens that never expire or rotate, tokens and codes in clear, PBKDF2 client
secrets. Every choice below overrides one of them; ``provider.checks`` refuses to start when a
deployment weakens them.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

from config.env import env_int, env_list, env_str

# The OpenID scopes, with the words the consent screen uses. APIs add their own permissions.
OIDC_SCOPES = {
    "openid": "Sign you in",
    "profile": "See your name",
    "email": "See your email address",
    "offline_access": "Stay signed in when you are away",
    "organization": "See which organization you signed in to and your role in it",
    # Progressive profiling (accounts/profiling/): the phone number, and the operator's own
    # profile fields.
    "phone": "See your phone number",
    "profile_fields": "See the extra details on your profile",
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
        # oauthlib's OpenID server, with an ID token for the device flow too.
        "OIDC_SERVER_CLASS": "provider.server.Server",
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


# Gatehouse's own OAuth settings, imported by name into config/settings.py. DOT's six models
# are all swapped for provider's, before DOT's first migration (docs/oauth-provider.md).
# Model names, not secrets (ruff reads "TOKEN" in them as one).
OAUTH2_PROVIDER_APPLICATION_MODEL = "provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "provider.AccessToken"  # noqa: S105
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "provider.RefreshToken"  # noqa: S105
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "provider.IDToken"  # noqa: S105
OAUTH2_PROVIDER_GRANT_MODEL = "provider.Grant"
OAUTH2_PROVIDER_DEVICE_GRANT_MODEL = "provider.DeviceGrant"
# Whether apps and AI agents Gatehouse has never seen may register themselves by URL (client
# ID metadata documents, as MCP clients do): off, allowlist (OAUTH_CIMD_ALLOWED_HOSTS) or open.
GATEHOUSE_OAUTH_CIMD_POLICY = env_str("OAUTH_CIMD_POLICY", "off")
if GATEHOUSE_OAUTH_CIMD_POLICY not in ("off", "allowlist", "open"):
    raise ImproperlyConfigured("OAUTH_CIMD_POLICY is off, allowlist or open.")
GATEHOUSE_OAUTH_CIMD_ALLOWED_HOSTS = env_list("OAUTH_CIMD_ALLOWED_HOSTS", [])
# Identifiers of the APIs whose permissions self-registered clients may ask people for.
GATEHOUSE_OAUTH_CIMD_APIS = env_list("OAUTH_CIMD_APIS", [])
# A refresh-token family dies this long after the sign-in that started it, however often used.
GATEHOUSE_OAUTH_REFRESH_ABSOLUTE_SECONDS = env_int("OAUTH_REFRESH_ABSOLUTE_SECONDS", 30 * 24 * 3600)
# Token requests one authenticated client may make a minute (shared cache): a 429 past it.
GATEHOUSE_OAUTH_TOKEN_REQUESTS_PER_MINUTE = env_int("OAUTH_TOKEN_REQUESTS_PER_MINUTE", 1200)
# Keys of the client-secret HMAC, newest first ("id:key"); derived from SECRET_KEY when
# embedded (provider/checks.py requires them in production).
GATEHOUSE_OAUTH_SECRET_KEYS = env_list("OAUTH_CLIENT_SECRET_KEYS", [])
# DOT warns that "http" is an allowed redirect scheme. It is, globally, for RFC 8252 loopback
# redirects of native apps only: Application.get_allowed_schemes() and the application service
# refuse http for every other kind and host (provider/checks.py guards the rest of the block).
SILENCED_SYSTEM_CHECKS = ["oauth2_provider.W008"]
