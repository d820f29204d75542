"""One delivery of an endpoint, as the Webhooks tab shows it: what was sent (the event's type
and webhook-id, never the signed headers), every attempt with what came back, and resending
it. The delivery log itself is on the endpoint's page (events/portal/endpoints.py)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from config.refusals import Refusal
from events import services
from events.models import DeliveryAttempt
from events.portal.common import delivery_of, endpoint_of, show_refusal, webhooks_context
from organizations.models import Membership, Organization
from organizations.pages import org_page
from organizations.permissions import Perm

MAX_ATTEMPTS_SHOWN = 100


@org_page(Perm.MANAGE_INTEGRATIONS)
@require_http_methods(["GET"])
def delivery_page(
    request: HttpRequest,
    org: Organization,
    membership: Membership,
    endpoint_id: str,
    delivery_id: str,
) -> HttpResponse:
    endpoint = endpoint_of(org, endpoint_id)
    delivery = delivery_of(endpoint, delivery_id)
    attempts = list(
        DeliveryAttempt.objects.filter(delivery=delivery).order_by("at", "pk")[:MAX_ATTEMPTS_SHOWN]
    )
    return render(
        request,
        "events/portal/delivery.html",
        webhooks_context(org, membership, endpoint=endpoint, delivery=delivery, attempts=attempts),
    )


@org_page(Perm.MANAGE_INTEGRATIONS)
@require_POST
def delivery_resend(
    request: HttpRequest,
    org: Organization,
    membership: Membership,
    endpoint_id: str,
    delivery_id: str,
) -> HttpResponse:
    endpoint = endpoint_of(org, endpoint_id)
    delivery = delivery_of(endpoint, delivery_id)
    try:
        again = services.resend(actor=membership, delivery=delivery)
    except Refusal as refusal:
        show_refusal(request, refusal)
        return redirect(
            "orgs:webhook-delivery",
            slug=org.slug,
            endpoint_id=endpoint.public_id,
            delivery_id=delivery.public_id,
        )
    messages.success(
        request, "The event is sent again, with the same webhook-id. This is the new delivery."
    )
    return redirect(
        "orgs:webhook-delivery",
        slug=org.slug,
        endpoint_id=endpoint.public_id,
        delivery_id=again.public_id,
    )
