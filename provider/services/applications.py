"""Registering OAuth clients, their redirect rules, their secrets and their access to APIs."""

from __future__ import annotations

import ipaddress
import secrets as random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.utils import timezone

from audit.actions import Action
from audit.services import record
from config import secrets
from config.provider_settings import OIDC_SCOPES as settings_scopes
from config.refusals import Refusal, service
from provider.models import Api, ApiAccess, Application, ApplicationKind
from provider.models.applications import CONFIDENTIAL_KINDS

# The OpenID scopes an app may be allowed: the settings' list (with progressive profiling's
# phone and profile_fields).
OIDC_SCOPES = tuple(settings_scopes)
DEFAULT_SECRET_OVERLAP = timedelta(hours=24)


@dataclass(frozen=True)
class Registered:
    """An application and, for a confidential one, its secret: shown once, never again."""

    application: Application
    client_secret: str | None


def _is_loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_redirect_uri(kind: str, uri: str) -> str:
    """The redirect rules of OAuth 2.1 and RFC 8252, per kind; returns the URI or refuses.

    Web apps and SPAs: https only. Native apps: https, http on a loopback IP literal (any port
    is accepted at authorize time, RFC 8252 7.3), or a private-use scheme with a dot
    (``com.example.app:/cb``, 7.1). Never a fragment, user info or wildcard."""
    parts = urlsplit(uri)
    if not parts.scheme or parts.fragment or "*" in uri or parts.username or parts.password:
        raise Refusal(f"{uri!r} is not an allowed redirect URI.")
    if parts.scheme == "https" and parts.hostname:
        return uri
    if kind == ApplicationKind.NATIVE:
        if parts.scheme == "http" and parts.hostname and _is_loopback_ip(parts.hostname):
            return uri
        if parts.scheme not in ("http", "https") and "." in parts.scheme:
            return uri
        raise Refusal(
            f"{uri!r}: a native app redirects to https, to http://127.0.0.1 or http://[::1], "
            "or to a private-use scheme such as com.example.app:/callback."
        )
    raise Refusal(f"{uri!r}: redirect URIs of this kind of app must use https.")


def _check_uris(kind: str, uris: list[str] | str) -> str:
    values = uris.split() if isinstance(uris, str) else list(uris)
    return " ".join(check_redirect_uri(kind, uri) for uri in values)


def _check_scopes(scopes: list[str] | None) -> list[str]:
    chosen = list(dict.fromkeys(scopes or []))
    unknown = [scope for scope in chosen if scope not in OIDC_SCOPES]
    if unknown:
        raise Refusal(f"Unknown OpenID scopes: {', '.join(unknown)}.")
    return chosen


def _set_secret(application: Application) -> str:
    secret = secrets.new_secret()
    stored = secrets.digest_of(secret)
    application.secret_digest = stored.digest
    application.secret_key_id = stored.key_id
    return secret


@service
def create_application(
    *,
    actor: Any,
    name: str,
    kind: str,
    redirect_uris: list[str] | str = (),  # type: ignore[assignment]
    post_logout_redirect_uris: list[str] | str = (),  # type: ignore[assignment]
    allowed_scopes: list[str] | None = None,
    first_party: bool = False,
    organization: Any = None,
    logo_url: str = "",
    description: str = "",
    backchannel_logout_uri: str = "",
    algorithm: str = "RS256",
    apis: dict[Api, list[str]] | None = None,
) -> Registered:
    """Register an OAuth client. A confidential one (web, M2M) gets a generated secret,
    returned here once and stored only as its keyed digest."""
    if kind not in ApplicationKind.values:
        raise Refusal("Choose the kind of application: web, spa, native or m2m.")
    name = (name or "").strip()
    if not name:
        raise Refusal("Give the application a name.")
    if organization is not None and kind != ApplicationKind.M2M:
        raise Refusal("Only machine-to-machine apps can be bound to one organization.")
    if algorithm not in ("RS256", "ES256"):
        raise Refusal("ID tokens are signed with RS256 or ES256.")
    uris = _check_uris(kind, redirect_uris) if kind != ApplicationKind.M2M else ""
    if kind != ApplicationKind.M2M and not uris:
        raise Refusal("Give at least one redirect URI.")
    logout_uris = _check_uris(kind, post_logout_redirect_uris)
    if backchannel_logout_uri:
        check_redirect_uri(ApplicationKind.WEB, backchannel_logout_uri)
    application = Application(
        name=name[:255],
        kind=kind,
        client_type=(
            Application.CLIENT_CONFIDENTIAL
            if kind in CONFIDENTIAL_KINDS
            else Application.CLIENT_PUBLIC
        ),
        # DOT's own column, in DOT's spelling; what a client may do goes by its kind.
        authorization_grant_type=(
            Application.GRANT_CLIENT_CREDENTIALS
            if kind == ApplicationKind.M2M
            else Application.GRANT_AUTHORIZATION_CODE
        ),
        redirect_uris=uris,
        post_logout_redirect_uris=logout_uris,
        allowed_scopes=_check_scopes(allowed_scopes) if kind != ApplicationKind.M2M else [],
        first_party=first_party,
        skip_authorization=first_party,
        organization=organization,
        logo_url=logo_url,
        description=description,
        backchannel_logout_uri=backchannel_logout_uri,
        algorithm=algorithm,
        # DOT's own secret column: random, never shown, never checked (see the model).
        hash_client_secret=False,
        client_secret=random.token_urlsafe(48),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    secret = _set_secret(application) if kind in CONFIDENTIAL_KINDS else None
    application.save()
    for api, scopes in (apis or {}).items():
        _grant_api(application, api, scopes)
    record(
        Action.OAUTH_APP_CREATED,
        actor=actor,
        target=application,
        organization=organization,
        data={"client_id": application.client_id, "kind": kind, "first_party": first_party},
    )
    return Registered(application, secret)


def _grant_api(application: Application, api: Api, scopes: list[str]) -> ApiAccess:
    unknown = [scope for scope in scopes if scope not in api.scopes]
    if unknown:
        raise Refusal(f"{api.name} defines no permission {', '.join(unknown)}.")
    access, _ = ApiAccess.objects.update_or_create(
        application=application, api=api, defaults={"scopes": sorted(set(scopes))}
    )
    return access


@service
def allow_api(*, actor: Any, application: Application, api: Api, scopes: list[str]) -> ApiAccess:
    """Let ``application`` ask for these permissions of ``api`` (replacing earlier ones)."""
    access = _grant_api(application, api, scopes)
    record(
        Action.OAUTH_APP_UPDATED,
        actor=actor,
        target=application,
        organization=application.organization_id,
        data={"api": api.identifier, "scopes": access.scopes},
    )
    return access


@service
def rotate_client_secret(
    *,
    actor: Any,
    application: Application,
    overlap: timedelta = DEFAULT_SECRET_OVERLAP,
    reason: str = "",
) -> str:
    """A new secret, returned once. The old one keeps working for ``overlap`` (zero ends it
    now), so a client can be redeployed without an outage."""
    application = Application.objects.select_for_update().get(pk=application.pk)
    if application.kind not in CONFIDENTIAL_KINDS:
        raise Refusal("Public clients have no secret.")
    if overlap < timedelta(0) or overlap > timedelta(days=30):
        raise Refusal("The overlap is between zero and 30 days.")
    now = timezone.now()
    if overlap:
        application.previous_secret_digest = application.secret_digest
        application.previous_secret_key_id = application.secret_key_id
        application.previous_secret_expires_at = now + overlap
    else:
        application.previous_secret_digest = ""
        application.previous_secret_key_id = ""
        application.previous_secret_expires_at = None
    secret = _set_secret(application)
    application.secret_rotated_at = now
    application.save(
        update_fields=[
            "secret_digest",
            "secret_key_id",
            "previous_secret_digest",
            "previous_secret_key_id",
            "previous_secret_expires_at",
            "secret_rotated_at",
            "updated",
        ]
    )
    record(
        Action.OAUTH_CLIENT_SECRET_ROTATED,
        actor=actor,
        target=application,
        organization=application.organization_id,
        data={
            "client_id": application.client_id,
            "overlap_seconds": int(overlap.total_seconds()),
            **({"reason": reason} if reason else {}),
        },
    )
    return secret


@service
def set_disabled(*, actor: Any, application: Application, disabled: bool, reason: str) -> None:
    """Turn an app off (every token and grant request refused at once) or back on."""
    if not reason.strip():
        raise Refusal("Say why.")
    application = Application.objects.select_for_update().get(pk=application.pk)
    application.disabled_at = timezone.now() if disabled else None
    application.save(update_fields=["disabled_at", "updated"])
    record(
        Action.OAUTH_APP_DISABLED if disabled else Action.OAUTH_APP_ENABLED,
        actor=actor,
        target=application,
        organization=application.organization_id,
        data={"client_id": application.client_id, "reason": reason},
    )


def _clean_name(kind: str, value: Any) -> str:
    name = (value or "").strip()[:255]
    if not name:
        raise Refusal("Give the application a name.")
    return name


def _clean_redirect_uris(kind: str, value: Any) -> str:
    if kind == ApplicationKind.M2M:
        return ""
    uris = _check_uris(kind, value or "")
    if not uris:
        raise Refusal("Give at least one redirect URI.")
    return uris


def _clean_backchannel(kind: str, value: Any) -> str:
    uri = (value or "").strip()
    return check_redirect_uri(ApplicationKind.WEB, uri) if uri else ""


# What ``update_application`` may change, each with the check ``create_application`` applies.
# The kind, the organization and the secret never change here.
UPDATABLE: dict[str, Any] = {
    "name": _clean_name,
    "redirect_uris": _clean_redirect_uris,
    "post_logout_redirect_uris": lambda kind, value: _check_uris(kind, value or ""),
    "allowed_scopes": lambda kind, value: (
        _check_scopes(value) if kind != ApplicationKind.M2M else []
    ),
    "first_party": lambda kind, value: bool(value),
    "logo_url": lambda kind, value: (value or "").strip(),
    "description": lambda kind, value: (value or "").strip()[:500],
    "backchannel_logout_uri": _clean_backchannel,
}


@service
def update_application(
    *, actor: Any, application: Application, reason: str = "", **changes: Any
) -> Application:
    """Change what staff may change about an app, with the redirect rules of its kind checked
    again. Only fields that really change are written and named in the audit event; their
    values are not (URIs can be long)."""
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise Refusal(f"These cannot be changed here: {', '.join(sorted(unknown))}.")
    application = Application.objects.select_for_update().get(pk=application.pk)
    cleaned = {field: UPDATABLE[field](application.kind, value) for field, value in changes.items()}
    changed = [field for field, value in cleaned.items() if getattr(application, field) != value]
    if not changed:
        return application
    for field in changed:
        setattr(application, field, cleaned[field])
    written = list(changed)
    if "first_party" in changed:
        application.skip_authorization = application.first_party
        written.append("skip_authorization")
    application.save(update_fields=[*written, "updated"])
    record(
        Action.OAUTH_APP_UPDATED,
        actor=actor,
        target=application,
        organization=application.organization_id,
        data={
            "client_id": application.client_id,
            "changed": sorted(changed),
            **({"reason": reason} if reason else {}),
        },
    )
    return application
