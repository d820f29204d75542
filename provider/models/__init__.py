"""The provider's tables: DOT's six swapped models plus APIs, signing keys, the person's
authorizations of apps and the OIDC sessions that tokens hang from."""

from provider.models.apis import Api, ApiAccess, TokenFormat
from provider.models.applications import Application, ApplicationKind
from provider.models.authorizations import Authorization, ProviderSession
from provider.models.keys import KeyState, SigningKey
from provider.models.tokens import AccessToken, DeviceGrant, Grant, IDToken, RefreshToken

__all__ = [
    "AccessToken",
    "Api",
    "ApiAccess",
    "Application",
    "ApplicationKind",
    "Authorization",
    "DeviceGrant",
    "Grant",
    "IDToken",
    "KeyState",
    "ProviderSession",
    "RefreshToken",
    "SigningKey",
    "TokenFormat",
]
