"""SocialProvider rows as allauth SocialApps, built on request (never stored in allauth's table).

Only what the row says goes into the app: allauth settings that would change whom to trust
(``verified_email``, ``email_authentication``, ``openid_configuration_overrides``,
``auth_params``) are never set.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
from allauth.socialaccount.models import SocialApp

from social.models import PROVIDER_ID_PREFIX, Kind, SocialProvider
from social.providers.github.provider import PROVIDER_CLASS_ID as GITHUB_CLASS_ID
from social.providers.oidc.provider import PROVIDER_CLASS_ID as OIDC_CLASS_ID

APPLE_SECRET_SECONDS = 300


def apple_client_secret(row: SocialProvider) -> str:
    """Apple's client secret: a short-lived JWT signed (ES256) with the row's private key."""
    now = int(time.time())
    return jwt.encode(
        {
            "iss": row.apple_team_id,
            "iat": now,
            "exp": now + APPLE_SECRET_SECONDS,
            "aud": row.configured_issuer,
            "sub": row.client_id,
        },
        row.apple_private_key,
        algorithm="ES256",
        headers={"kid": row.apple_key_id},
    )


def social_app(row: SocialProvider) -> SocialApp:
    if row.kind == Kind.GITHUB:
        app = SocialApp(
            provider=GITHUB_CLASS_ID,
            provider_id=row.provider_id,
            name=row.name,
            client_id=row.client_id,
            secret=row.client_secret,  # decrypted in memory only
            settings={"oauth_pkce_enabled": True},
        )
    else:
        app = SocialApp(
            provider=OIDC_CLASS_ID,
            provider_id=row.provider_id,
            name=row.name,
            client_id=row.client_id,
            secret=_secret(row),
            settings={
                "server_url": row.discovery_url,
                "token_auth_method": "client_secret_post",
                "oauth_pkce_enabled": row.kind != Kind.APPLE,
                "fetch_userinfo": True,
            },
        )
    app.gatehouse_social = row  # type: ignore[attr-defined]
    return app


def _secret(row: SocialProvider) -> str:
    if row.kind != Kind.APPLE:
        return row.client_secret
    if not (row.apple_private_key_encrypted and row.apple_team_id and row.apple_key_id):
        return ""
    return apple_client_secret(row)


def is_social_provider(provider: str) -> bool:
    return provider in (OIDC_CLASS_ID, GITHUB_CLASS_ID) or provider.startswith(PROVIDER_ID_PREFIX)


def social_apps(
    provider: str | None = None, client_id: str | None = None, *, enabled_only: bool = False
) -> list[SocialApp]:
    """The apps for ``provider`` (a provider class id or a row's provider id), or for every
    row. Disabled rows are included unless ``enabled_only``: their identities still need
    listing on the account page; every way in checks ``enabled``."""
    rows: Any = SocialProvider.objects.all()
    if enabled_only:
        rows = rows.filter(enabled=True)
    if client_id:
        rows = rows.filter(client_id=client_id)
    if provider == GITHUB_CLASS_ID:
        rows = rows.filter(kind=Kind.GITHUB)
    elif provider == OIDC_CLASS_ID:
        rows = rows.exclude(kind=Kind.GITHUB)
    elif provider:
        rows = rows.filter(slug=provider.removeprefix(PROVIDER_ID_PREFIX))
    return [social_app(row) for row in rows]


def row_of(sociallogin: Any) -> SocialProvider | None:
    """The social provider row a login came through, if it came through one."""
    app = getattr(getattr(sociallogin, "provider", None), "app", None)
    return getattr(app, "gatehouse_social", None)
