"""Clients that register themselves by URL: OAuth Client ID Metadata Documents, the way the
Model Context Protocol lets an AI agent (or any app Gatehouse has never seen) ask a person for
access.

DOT 3.4 does the protocol: a ``client_id`` that is an https URL is fetched (https only, every
resolved address public and pinned for the connection, no redirects, a size cap and a
deadline, failures backed off), checked (the document names its own URL, has no secret,
lists redirect URIs) and stored as a public Application. Gatehouse adds:

- the operator's policy, ``OAUTH_CIMD_POLICY``: ``off`` (the default), ``allowlist`` (only
  hosts in ``OAUTH_CIMD_ALLOWED_HOSTS``) or ``open``;
- its own rules for such apps, applied whenever DOT saves one: a public native app or SPA
  by its redirect URIs (checked like any other app's), never first-party, so the person is
  always asked; OpenID scopes only, plus the permissions of the APIs the operator opens to
  agents (``OAUTH_CIMD_APIS``), which the person still has to grant;
- an audit event for every new registration.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.http.request import validate_host

from config.refusals import Refusal

AGENT_SCOPES = ["openid", "profile", "email", "offline_access"]


class OperatorPolicyPermission:
    """DOT's registration gate (``CIMD_REGISTRATION_PERMISSION_CLASSES``), asked before any
    fetch: the operator's policy decides which hosts may register clients."""

    def has_permission(self, request: HttpRequest | Any, client_id: str) -> bool:
        policy = settings.GATEHOUSE_OAUTH_CIMD_POLICY
        if policy == "open":
            return True
        if policy == "allowlist":
            host = urlsplit(client_id).hostname or ""
            return bool(host) and validate_host(host, settings.GATEHOUSE_OAUTH_CIMD_ALLOWED_HOSTS)
        return False


def is_self_registered(application: Any) -> bool:
    return bool(application.registration_source == application.RegistrationSource.CIMD)


def apply_rules(application: Any) -> None:
    """Make a self-registered client what Gatehouse allows such a client to be. Raises
    ValidationError (which DOT reports as an invalid document) when its redirects break the
    rules every app follows."""
    from provider.models.applications import ApplicationKind
    from provider.services.applications import check_redirect_uri

    uris = application.redirect_uris.split()
    native = any(urlsplit(uri).scheme != "https" for uri in uris)
    application.kind = ApplicationKind.NATIVE if native else ApplicationKind.SPA
    try:
        for uri in uris:
            check_redirect_uri(application.kind, uri)
    except Refusal as refusal:
        raise ValidationError({"redirect_uris": refusal.message}) from None
    application.client_type = application.CLIENT_PUBLIC
    application.authorization_grant_type = application.GRANT_AUTHORIZATION_CODE
    application.first_party = False
    application.skip_authorization = False
    application.organization = None
    application.allowed_scopes = list(AGENT_SCOPES)
    application.hash_client_secret = False
    if not application.client_secret:
        application.client_secret = secrets.token_urlsafe(48)
    application.name = (application.name or urlsplit(application.client_id).hostname or "")[:255]


def open_apis_to(application: Any) -> None:
    """Let a newly registered agent ask for the permissions of the APIs the operator opened
    to agents (the person still decides on the consent screen)."""
    from provider.models import Api, ApiAccess

    for api in Api.objects.filter(identifier__in=settings.GATEHOUSE_OAUTH_CIMD_APIS):
        ApiAccess.objects.get_or_create(
            application=application, api=api, defaults={"scopes": sorted(api.scopes)}
        )
