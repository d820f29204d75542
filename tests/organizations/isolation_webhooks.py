"""The Webhooks tab's part of the tenant-isolation matrix (tests/organizations/test_isolation.py):
its routes, an endpoint with one delivery in each organization, and what a refused call must
leave as it was. Kept here so that the matrix stays one screenful per tab."""

from __future__ import annotations

from typing import Any

from django.test import override_settings

from events import services
from events.models import Delivery, Event, WebhookEndpoint, WebhookSecret
from organizations.models import Membership

HOOK = "http://127.0.0.1:9/hook"

# (method, path, body): {webhook} is an endpoint's public id, {webhook_delivery} a delivery's.
ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("get", "/orgs/{slug}/webhooks/", {}),
    ("get", "/orgs/{slug}/webhooks/new/", {}),
    ("post", "/orgs/{slug}/webhooks/new/", {"url": HOOK}),
    ("get", "/orgs/{slug}/webhooks/{webhook}/", {}),
    ("get", "/orgs/{slug}/webhooks/{webhook}/edit/", {}),
    ("post", "/orgs/{slug}/webhooks/{webhook}/edit/", {"url": HOOK, "description": "x"}),
    ("post", "/orgs/{slug}/webhooks/{webhook}/disable/", {}),
    ("post", "/orgs/{slug}/webhooks/{webhook}/enable/", {}),
    ("post", "/orgs/{slug}/webhooks/{webhook}/rotate/", {"overlap": "0"}),
    ("post", "/orgs/{slug}/webhooks/{webhook}/test/", {}),
    ("get", "/orgs/{slug}/webhooks/{webhook}/delete/", {}),
    ("post", "/orgs/{slug}/webhooks/{webhook}/delete/", {}),
    ("get", "/orgs/{slug}/webhooks/{webhook}/deliveries/{webhook_delivery}/", {}),
    ("post", "/orgs/{slug}/webhooks/{webhook}/deliveries/{webhook_delivery}/resend/", {}),
]


def objects_of(org, owner) -> tuple[str, str]:
    """An endpoint of ``org`` (made by its owner) and one delivery: their public ids."""
    with override_settings(OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS=True):
        endpoint = services.create_endpoint(
            actor=Membership.objects.get(organization=org, user=owner),
            organization=org,
            url=HOOK,
            description=f"{org.slug}.example receiver",
        ).endpoint
    event = Event.objects.create(type="user.created", organization_id=org.pk)
    return endpoint.public_id, Delivery.objects.create(endpoint=endpoint, event=event).public_id


def snapshot() -> tuple:
    return (
        sorted(WebhookEndpoint.objects.values_list("pk", "url", "description", "status"), key=str),
        sorted(WebhookSecret.objects.values_list("pk", "expires_at"), key=str),
        sorted(Delivery.objects.values_list("pk", "status"), key=str),
    )
