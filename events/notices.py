"""Turning an endpoint off when its receiver says it is gone (410) or has failed for a day and
a half, and telling its owner by email (Standard Webhooks: "by another channel").

The owner of an organization's endpoint is that organization's members who may manage
integrations (owners and admins); the operator's endpoints are the staff addresses in
``GATEHOUSE_OPS_EMAILS``. Runs inside the settling transaction: the emails are queued with it
and leave once it commits.
"""

from __future__ import annotations

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.utils import timezone

from accounts.services import outside_a_request
from audit.actions import Action
from audit.services import record
from events.models import Delivery, WebhookEndpoint
from organizations import permissions
from organizations.models import Membership
from organizations.permissions import Perm

EMAIL_TEMPLATE = "events/email/endpoint_disabled"


def owners_of(endpoint: WebhookEndpoint) -> list[str]:
    """The addresses told about ``endpoint``."""
    if endpoint.organization_id is None:
        return list(settings.GATEHOUSE_OPS_EMAILS)
    members = (
        Membership.objects.active()
        .filter(organization_id=endpoint.organization_id)
        .select_related("user")
    )
    return sorted(
        {m.user.email for m in members if permissions.allowed(m, Perm.MANAGE_INTEGRATIONS)}
    )


def turn_off(endpoint: WebhookEndpoint, reason: str) -> None:
    """Disable ``endpoint`` (locked by the caller) for ``reason``, record it and email its
    owners. After a 410 its waiting deliveries are cancelled: the receiver said it is gone."""
    endpoint.status = WebhookEndpoint.Status.DISABLED
    endpoint.disabled_reason = reason
    endpoint.updated_at = timezone.now()
    endpoint.save(update_fields=["status", "disabled_reason", "updated_at"])
    cancelled = 0
    if reason == WebhookEndpoint.DisabledReason.GONE:
        cancelled = Delivery.objects.filter(
            endpoint=endpoint, status=Delivery.Status.PENDING
        ).update(status=Delivery.Status.CANCELLED, queued_at=None)
    recipients = owners_of(endpoint)
    record(
        Action.WEBHOOK_ENDPOINT_DISABLED,
        actor_text="system",
        organization=endpoint.organization_id,
        target=endpoint,
        data={
            "endpoint": endpoint.public_id,
            "reason": reason,
            "cancelled": cancelled,
            "recipients": len(recipients),
        },
    )
    org = endpoint.organization
    link = settings.GATEHOUSE_PUBLIC_URL + (
        f"/orgs/{org.slug}/webhooks/" if org is not None else "/admin/events/webhookendpoint/"
    )
    with outside_a_request():
        for address in recipients:
            get_adapter().send_mail(
                EMAIL_TEMPLATE,
                address,
                {
                    "endpoint": endpoint,
                    "organization": org,
                    "gone": reason == WebhookEndpoint.DisabledReason.GONE,
                    "hours": settings.GATEHOUSE_WEBHOOK_DISABLE_AFTER_HOURS,
                    "link": link,
                },
            )
