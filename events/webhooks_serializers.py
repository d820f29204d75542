"""What the webhooks API reads and writes (events/webhooks_api.py)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from config.api_framework import StrictTypes
from events.models import Delivery, WebhookEndpoint
from events.registry import TYPE_CHOICES
from events.services import MAX_DESCRIPTION, MAX_OVERLAP_HOURS, MAX_URL

_TYPE_NAMES = [name for name, _ in TYPE_CHOICES]


class EndpointSerializer(serializers.Serializer[WebhookEndpoint]):
    id = serializers.CharField(source="public_id", read_only=True)
    organization = serializers.SerializerMethodField(
        help_text="The organization's slug; null for the operator's own endpoints."
    )
    url = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    event_types = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Empty: every type."
    )
    status = serializers.ChoiceField(choices=WebhookEndpoint.Status.choices, read_only=True)
    disabled_reason = serializers.CharField(
        read_only=True, help_text="gone_410, failing or by_owner; empty while enabled."
    )
    failing_since = serializers.DateTimeField(read_only=True, allow_null=True)
    last_success_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)

    def get_organization(self, endpoint: WebhookEndpoint) -> str | None:
        return endpoint.organization.slug if endpoint.organization is not None else None


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret (whsec_...): shown once, now."
    )


class EndpointWriteSerializer(StrictTypes, serializers.Serializer[Any]):
    url = serializers.CharField(max_length=MAX_URL, help_text="https only.")
    description = serializers.CharField(
        max_length=MAX_DESCRIPTION, required=False, allow_blank=True
    )
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=_TYPE_NAMES),
        required=False,
        max_length=len(_TYPE_NAMES),
        help_text="Event types to receive (GET /api/v1/events/types/); empty or absent: all.",
    )


class EndpointCreateSerializer(EndpointWriteSerializer):
    organization = serializers.SlugField(
        required=False,
        help_text="The organization whose events it receives (an app bound to an "
        "organization: its own, the default). Absent: the operator's, with every event.",
    )


class EndpointPatchSerializer(EndpointWriteSerializer):
    url = serializers.CharField(max_length=MAX_URL, required=False, help_text="https only.")


class WebhookRotateSerializer(StrictTypes, serializers.Serializer[Any]):
    overlap_hours = serializers.IntegerField(
        required=False,
        default=24,
        min_value=0,
        max_value=MAX_OVERLAP_HOURS,
        help_text="How long the current secret keeps signing beside the new one (0: ends now).",
    )


class SecretSerializer(serializers.Serializer[Any]):
    secret = serializers.CharField(read_only=True, help_text="Shown once, now.")


class DeliverySerializer(serializers.Serializer[Delivery]):
    id = serializers.CharField(source="public_id", read_only=True)
    event_id = serializers.CharField(
        source="event.public_id", read_only=True, help_text="The webhook-id it is sent with."
    )
    event_type = serializers.CharField(source="event.type", read_only=True)
    status = serializers.ChoiceField(choices=Delivery.Status.choices, read_only=True)
    attempts = serializers.IntegerField(read_only=True)
    next_attempt_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_status = serializers.IntegerField(read_only=True, allow_null=True)
    last_error = serializers.CharField(read_only=True)
    last_latency_ms = serializers.IntegerField(read_only=True, allow_null=True)
    delivered_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    resend_of = serializers.SerializerMethodField()

    def get_resend_of(self, delivery: Delivery) -> str | None:
        return delivery.resend_of.public_id if delivery.resend_of is not None else None


class DeliveryPageSerializer(serializers.Serializer[Any]):
    data = DeliverySerializer(many=True)
    next_cursor = serializers.CharField(
        allow_null=True, help_text="Pass as `before` for older deliveries; null at the end."
    )
    has_more = serializers.BooleanField()


class DeliveryQuerySerializer(serializers.Serializer[Any]):
    before = serializers.RegexField(
        r"^[1-9][0-9]{0,17}$", required=False, help_text="A `next_cursor` from an earlier page."
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100)


class EventTypeSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    description = serializers.CharField()
    schema = serializers.DictField(help_text="JSON Schema of the type's `data`.")
