"""Webhook endpoints through the management API: /api/v1/webhooks/endpoints/... and the
catalogue of event types, /api/v1/events/types/ (routed by config/api.py).

Callers: a backend whose token holds ``webhooks:read`` / ``webhooks:write`` (an app bound to
an organization manages that organization's endpoints only; others answer 404), or staff in
a browser session with the ``events.*_webhookendpoint`` permissions. Writes go through
``events.services`` with the caller as the actor; a new or rotated secret is in that answer
only.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from events import services
from events.models import Delivery, WebhookEndpoint
from events.registry import EVENT_TYPES, schema_for
from events.webhooks_serializers import (
    DeliveryPageSerializer,
    DeliveryQuerySerializer,
    DeliverySerializer,
    EndpointCreateSerializer,
    EndpointPatchSerializer,
    EndpointSerializer,
    EndpointWithSecretSerializer,
    EventTypeSerializer,
    SecretSerializer,
    WebhookRotateSerializer,
)
from organizations.models import Organization
from provider.api.authentication import bound_organization_id
from provider.api.permissions import SignedInOrToken, StaffPermission

READ = ["webhooks:read"]
WRITE = ["webhooks:write"]
DEFAULT_PAGE = 50


class WebhooksMixin:
    permission_classes = (SignedInOrToken, StaffPermission)
    required_scopes = {"GET": READ, "POST": WRITE, "PATCH": WRITE, "DELETE": WRITE}
    session_perms = {
        "GET": "events.view_webhookendpoint",
        "POST": "events.change_webhookendpoint",
        "PATCH": "events.change_webhookendpoint",
        "DELETE": "events.delete_webhookendpoint",
    }
    request: Request
    kwargs: dict[str, Any]

    @property
    def actor(self) -> Any:
        return self.request.user

    def endpoints(self) -> QuerySet[WebhookEndpoint]:
        """The endpoints the caller may see: its organization's alone when it is bound."""
        visible = services.selected(self.actor)
        bound = bound_organization_id(self.request)
        if bound is not None:
            visible = visible.for_org(bound)
        return visible.select_related("organization")

    def endpoint(self) -> WebhookEndpoint:
        found = self.endpoints().filter(public_id=self.kwargs["endpoint_id"]).first()
        if found is None:
            raise exceptions.NotFound("No such webhook endpoint.")
        return found


class EndpointListView(WebhooksMixin, APIView):
    """Webhook endpoints, newest first. POST registers one; its signing secret is in that
    answer, once."""

    session_perms = {**WebhooksMixin.session_perms, "POST": "events.add_webhookendpoint"}

    @extend_schema(
        operation_id="webhook_endpoints_list", responses={200: EndpointSerializer(many=True)}
    )
    def get(self, request: Request) -> Response:
        rows = self.endpoints().order_by("-created_at", "-id")[:500]
        return Response(EndpointSerializer(rows, many=True).data)

    @extend_schema(
        operation_id="webhook_endpoints_create",
        request=EndpointCreateSerializer,
        responses={201: EndpointWithSecretSerializer},
    )
    def post(self, request: Request) -> Response:
        form = EndpointCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        bound = bound_organization_id(request)
        organization = None
        if "organization" in data:
            organization = Organization.objects.filter(slug=data["organization"]).first()
            if organization is None or (bound is not None and organization.pk != bound):
                raise exceptions.ValidationError({"organization": ["No such organization."]})
        elif bound is not None:
            organization = Organization.objects.get(pk=bound)
        created = services.create_endpoint(
            actor=self.actor,
            organization=organization,
            url=data["url"],
            description=data.get("description", ""),
            event_types=data.get("event_types", []),
        )
        body = dict(EndpointSerializer(created.endpoint).data, secret=created.secret)
        return Response(body, status=201)


class EndpointDetailView(WebhooksMixin, APIView):
    @extend_schema(operation_id="webhook_endpoints_retrieve", responses={200: EndpointSerializer})
    def get(self, request: Request, endpoint_id: str) -> Response:
        return Response(EndpointSerializer(self.endpoint()).data)

    @extend_schema(
        operation_id="webhook_endpoints_update",
        request=EndpointPatchSerializer,
        responses={200: EndpointSerializer},
    )
    def patch(self, request: Request, endpoint_id: str) -> Response:
        endpoint = self.endpoint()
        form = EndpointPatchSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        changes: dict[str, Any] = {
            "url": data.get("url"),
            "description": data.get("description"),
        }
        if "event_types" in data:
            changes["event_types"] = data["event_types"]
        updated = services.update_endpoint(actor=self.actor, endpoint=endpoint, **changes)
        return Response(EndpointSerializer(updated).data)

    @extend_schema(operation_id="webhook_endpoints_destroy", responses={204: None})
    def delete(self, request: Request, endpoint_id: str) -> Response:
        services.delete(actor=self.actor, endpoint=self.endpoint())
        return Response(status=204)


class RotateSecretView(WebhooksMixin, APIView):
    """A new signing secret, shown once; the current one keeps signing beside it for the
    overlap, so receivers can switch without losing a message."""

    @extend_schema(
        operation_id="webhook_endpoints_rotate_secret",
        request=WebhookRotateSerializer,
        responses={200: SecretSerializer},
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint = self.endpoint()
        form = WebhookRotateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        secret = services.rotate_secret(
            actor=self.actor, endpoint=endpoint, overlap_hours=form.validated_data["overlap_hours"]
        )
        return Response({"secret": secret})


class TestEventView(WebhooksMixin, APIView):
    """Send a `webhook.test` event to this endpoint alone."""

    @extend_schema(
        operation_id="webhook_endpoints_test", request=None, responses={202: DeliverySerializer}
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        delivery = services.send_test(actor=self.actor, endpoint=self.endpoint())
        return Response(DeliverySerializer(delivery).data, status=202)


class DeliveryListView(WebhooksMixin, APIView):
    """The endpoint's deliveries, newest first, a page at a time (pass `next_cursor` back as
    `before`)."""

    @extend_schema(
        operation_id="webhook_deliveries_list",
        parameters=[DeliveryQuerySerializer],
        responses={200: DeliveryPageSerializer},
    )
    def get(self, request: Request, endpoint_id: str) -> Response:
        endpoint = self.endpoint()
        query = DeliveryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        limit = query.validated_data.get("limit", DEFAULT_PAGE)
        rows = Delivery.objects.filter(endpoint=endpoint).select_related("event", "resend_of")
        if "before" in query.validated_data:
            rows = rows.filter(id__lt=int(query.validated_data["before"]))
        page = list(rows.order_by("-id")[: limit + 1])
        more = len(page) > limit
        page = page[:limit]
        return Response(
            {
                "data": DeliverySerializer(page, many=True).data,
                "next_cursor": str(page[-1].pk) if more else None,
                "has_more": more,
            }
        )


class ResendView(WebhooksMixin, APIView):
    """Send a delivery's event again, with the same webhook-id."""

    @extend_schema(
        operation_id="webhook_deliveries_resend", request=None, responses={202: DeliverySerializer}
    )
    def post(self, request: Request, endpoint_id: str, delivery_id: str) -> Response:
        endpoint = self.endpoint()
        delivery = Delivery.objects.filter(endpoint=endpoint, public_id=delivery_id).first()
        if delivery is None:
            raise exceptions.NotFound("No such delivery.")
        again = services.resend(actor=self.actor, delivery=delivery)
        return Response(DeliverySerializer(again).data, status=202)


class EventTypesView(APIView):
    """Every event type Gatehouse sends, with the JSON Schema of its `data`."""

    permission_classes = (SignedInOrToken, StaffPermission)
    required_scopes = {"GET": READ}
    session_perms = {"GET": "events.view_webhookendpoint"}

    @extend_schema(operation_id="events_types", responses={200: EventTypeSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(
            [
                {"name": name, "description": kind.description, "schema": schema_for(kind)}
                for name, kind in sorted(EVENT_TYPES.items())
            ]
        )
