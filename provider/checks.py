"""Start-up checks for the OpenID provider: DOT's settings as Gatehouse sets them
(config/provider_settings.py) are the safe ones, and a deployment that weakens them does not
start. Registered under config.checks' tag, so the web server, Celery and ``manage.py`` all
refuse (config.checks.refuse_to_start_if_unsafe).

Every rule here holds in the embedded mode too, except the client-secret keys, which the
embedded mode derives from SECRET_KEY.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core import checks

from config.checks import TAG

MAX_ACCESS_TOKEN_SECONDS = 3600
MIN_SECRET_KEY_LENGTH = 32

# Settings that must be exactly True, each with what turning it off would allow.
MUST_BE_ON = {
    "PKCE_REQUIRED": (1, "PKCE is optional: a stolen authorization code could be redeemed"),
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": (1, "PKCE is optional"),
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": (
        2,
        'PKCE "plain" is accepted: the challenge is the verifier, so it protects nothing',
    ),
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": (
        3,
        "the implicit grant is allowed: tokens would travel in URL fragments",
    ),
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": (
        3,
        "the password grant is allowed: apps would handle people's passwords",
    ),
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": (
        4,
        "tokens are stored in clear: whoever reads the database could use them",
    ),
    "ROTATE_REFRESH_TOKEN": (5, "refresh tokens do not rotate: a stolen one works for weeks"),
    "REFRESH_TOKEN_REUSE_PROTECTION": (
        5,
        "a replayed refresh token does not revoke its family",
    ),
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": (
        9,
        "redirect URIs are not matched exactly",
    ),
}
FORBIDDEN_GRANTS = frozenset({"password", "implicit", "openid-hybrid"})
FORBIDDEN_RESPONSE_TYPES = frozenset({"token", "id_token", "id_token token"})


def _error(number: int, message: str, hint: str = "") -> checks.Error:
    return checks.Error(message, hint=hint or None, id=f"gatehouse.provider.E{number:03d}")


@checks.register(TAG)
def provider_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """OAUTH2_PROVIDER keeps OAuth 2.1's rules; the issuer is the public URL; client secrets
    have keys of their own in production."""
    return unsafe_settings(
        settings.OAUTH2_PROVIDER,
        public_url=settings.GATEHOUSE_PUBLIC_URL,
        embedded=settings.EMBEDDED,
        secret_keys=list(getattr(settings, "GATEHOUSE_OAUTH_SECRET_KEYS", []) or []),
    )


def unsafe_settings(
    provider: Mapping[str, Any], *, public_url: str, embedded: bool, secret_keys: list[str]
) -> list[checks.CheckMessage]:
    """The errors of one OAUTH2_PROVIDER block. A function of its arguments, so tests can
    check any block without overriding OAUTH2_PROVIDER (which makes DOT reload its settings)."""
    hint = "Keep the value config/provider_settings.py sets."
    errors: list[checks.CheckMessage] = [
        _error(number, f"OAUTH2_PROVIDER[{name!r}] is not True: {what}.", hint)
        for name, (number, what) in MUST_BE_ON.items()
        if provider.get(name) is not True
    ]
    errors += _grant_errors(provider)
    errors += _lifetime_errors(provider)
    if str(provider.get("OIDC_ISS_ENDPOINT", "")).rstrip("/") != public_url:
        errors.append(
            _error(
                7,
                f"OAUTH2_PROVIDER['OIDC_ISS_ENDPOINT'] ({provider.get('OIDC_ISS_ENDPOINT')!r}) "
                f"is not the public URL ({public_url!r}): ID tokens, discovery and the iss "
                "parameter would name different issuers, and clients refuse them.",
                "Set PUBLIC_URL and leave OIDC_ISS_ENDPOINT to config/provider_settings.py.",
            )
        )
    if not embedded:
        errors += _secret_key_errors(secret_keys)
    return errors


def _grant_errors(provider: Mapping[str, Any]) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    grants = FORBIDDEN_GRANTS & set(provider.get("OAUTH2_GRANT_TYPES_SUPPORTED") or ())
    responses = FORBIDDEN_RESPONSE_TYPES & {
        *(provider.get("OAUTH2_RESPONSE_TYPES_SUPPORTED") or ()),
        *(provider.get("OIDC_RESPONSE_TYPES_SUPPORTED") or ()),
    }
    if grants or responses:
        errors.append(
            _error(
                3,
                f"The implicit and password grants are not offered (found {sorted(grants)} "
                f"{sorted(responses)}).",
            )
        )
    if provider.get("ALLOW_URI_WILDCARDS"):
        errors.append(
            _error(9, "Wildcard redirect URIs are allowed: redirects must match exactly.")
        )
    if provider.get("DCR_ENABLED"):
        errors.append(
            _error(
                10,
                "DOT's dynamic client registration is on: it creates clients with plain "
                "secrets, outside Gatehouse's services and audit.",
            )
        )
    if not provider.get("REFRESH_TOKEN_GENERATOR"):
        errors.append(
            _error(
                11,
                "OAUTH2_PROVIDER['REFRESH_TOKEN_GENERATOR'] is unset: oauthlib would then make "
                "refresh tokens with the access-token generator (signed JWTs).",
            )
        )
    return errors


def _lifetime_errors(provider: Mapping[str, Any]) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for name in ("ACCESS_TOKEN_EXPIRE_SECONDS", "ID_TOKEN_EXPIRE_SECONDS"):
        seconds = int(provider.get(name) or 0)
        if seconds > MAX_ACCESS_TOKEN_SECONDS:
            errors.append(
                _error(
                    6,
                    f"OAUTH2_PROVIDER[{name!r}] is {seconds} s: access and ID tokens live an "
                    "hour at most (revocation only reaches a JWT when it expires).",
                    "Set OAUTH_ACCESS_TOKEN_SECONDS to 3600 or less (600 is the default).",
                )
            )
    if int(provider.get("REFRESH_TOKEN_GRACE_PERIOD_SECONDS") or 0):
        errors.append(
            _error(5, "A refresh-token grace period lets a replayed refresh token through.")
        )
    return errors


def _secret_key_errors(configured: list[str]) -> list[checks.CheckMessage]:
    if not configured:
        return [
            _error(
                8,
                "Set OAUTH_CLIENT_SECRET_KEYS in production (comma-separated id:key entries, "
                "newest first): client secrets are stored as HMACs under these keys, which "
                "must not be derived from SECRET_KEY.",
            )
        ]
    weak = [
        entry.partition(":")[0]
        for entry in configured
        if len(entry.partition(":")[2] or entry) < MIN_SECRET_KEY_LENGTH
    ]
    if weak:
        return [_error(8, f"OAUTH_CLIENT_SECRET_KEYS has keys shorter than 32 characters: {weak}.")]
    return []
