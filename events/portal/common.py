"""What every page of the Webhooks tab shares: the page context, finding the organization's
own endpoints and deliveries, the one page that shows a secret, and the delivery log's pages.

Organization, membership and refusals come from ``organizations.pages.org_page``. Endpoints are
found by their public id within the organization (``WebhookEndpoint.objects.for_org``), and
deliveries within their endpoint, so another organization's ids find nothing (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from config.refusals import NotFound, Refusal
from events.models import Delivery, WebhookEndpoint
from organizations.models import Membership, Organization
from organizations.pages import page_context

TAB = "webhooks"
LOG_PAGE_SIZE = 50


def webhooks_context(org: Organization, membership: Membership, **extra: Any) -> dict[str, Any]:
    """The organization portal's page context, on its Webhooks tab."""
    return page_context(org, membership, tab=TAB, **extra)


def endpoint_of(org: Organization, endpoint_id: str) -> WebhookEndpoint:
    """The organization's endpoint with this public id; 404 for anyone else's."""
    endpoint = WebhookEndpoint.objects.for_org(org).filter(public_id=endpoint_id).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def delivery_of(endpoint: WebhookEndpoint, delivery_id: str) -> Delivery:
    """The endpoint's delivery with this public id; 404 for any other endpoint's."""
    delivery = (
        Delivery.objects.filter(endpoint=endpoint, public_id=delivery_id)
        .select_related("event", "resend_of")
        .first()
    )
    if delivery is None:
        raise NotFound("No such delivery.")
    return delivery


def show_refusal(request: HttpRequest, refusal: Refusal) -> None:
    """An access refusal or an unknown object goes up to ``org_page`` (403 page, 404); any
    other refusal (an endpoint that is off, say) is the admin's to fix, shown as a message."""
    if refusal.status in (403, 404):
        raise refusal
    refusal.record()
    messages.error(request, refusal.message)


def secret_page(
    request: HttpRequest,
    org: Organization,
    membership: Membership,
    endpoint: WebhookEndpoint,
    secret: str,
    *,
    created: bool,
    overlap_hours: int = 0,
) -> HttpResponse:
    """The one page that shows a signing secret: the answer to the request that made it. Not
    cached, never put in a message, the session or a log."""
    response = render(
        request,
        "events/portal/secret.html",
        webhooks_context(
            org,
            membership,
            endpoint=endpoint,
            secret=secret,
            created=created,
            overlap_hours=overlap_hours,
        ),
        status=201 if created else 200,
    )
    response["Cache-Control"] = "no-store"
    return response


@dataclass(frozen=True)
class LogPage:
    """Deliveries newest first, before the id in ``?before=``: no OFFSET and no COUNT, so an
    old page costs what the first one does."""

    rows: list[Delivery]
    next_before: int | None


def before_id(request: HttpRequest) -> int | None:
    try:
        before = int(request.GET.get("before", ""))
    except ValueError:
        return None
    return before if before > 0 else None


def log_page(endpoint: WebhookEndpoint, before: int | None) -> LogPage:
    rows = Delivery.objects.filter(endpoint=endpoint).select_related("event")
    if before is not None:
        rows = rows.filter(pk__lt=before)
    page = list(rows.order_by("-pk")[: LOG_PAGE_SIZE + 1])
    more = len(page) > LOG_PAGE_SIZE
    page = page[:LOG_PAGE_SIZE]
    return LogPage(rows=page, next_before=page[-1].pk if more else None)
