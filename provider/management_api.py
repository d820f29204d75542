"""Gatehouse's own management API (/api/v1/) as a resource server: its permissions, and the
row that names it (created by migration 0002; ``management_api()`` recreates it if missing)."""

from __future__ import annotations

from django.conf import settings

from provider.models import Api, TokenFormat

PERMISSIONS = {
    "users:read": "Search and read people's accounts, sessions and second factors",
    "users:write": "Create, change, block and unblock accounts; end sessions; reset factors",
    "organizations:read": "Read organizations, their members, invitations, domains and policy",
    "organizations:write": "Change organizations, their members, invitations, domains and policy",
    "consent:read": "Read people's consents and receipts",
    "consent:write": "Change the purpose catalogue and record consents",
    "clients:read": "Read the OAuth applications and APIs registered with Gatehouse",
    "clients:write": "Register and change OAuth applications and APIs; rotate client secrets",
    # Added after the row existed: provider migration 0004 adds it to existing databases.
    "events:read": "Read the events feed (an organization's app: its organization's events)",
    # Provider migration 0005 adds it to existing databases.
    "audit:read": "Verify an organization's audit log against a checkpoint",
}


def management_api() -> Api:
    api, _ = Api.objects.get_or_create(
        system=True,
        defaults={
            "identifier": settings.GATEHOUSE_PUBLIC_URL + "/api/v1/",
            "name": "Gatehouse management API",
            "scopes": PERMISSIONS,
            "access_token_lifetime": 600,
            "token_format": TokenFormat.JWT,
            "signing_alg": "ES256",
        },
    )
    return api
