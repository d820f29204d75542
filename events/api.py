"""The events feed: ``GET /api/v1/events?after=<cursor>`` (docs/events.md 4.7).

A consumer that was down catches up by reading pages after the cursor it kept: events come in
the order their transactions committed, each exactly once. Callers: the operator's backends
with a token carrying ``events:read`` (every event), an app or token bound to one
organization (that organization's events only; people's Gatehouse-wide events are not among
them), and staff in a browser session with ``events.view_event``.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Max, Sum
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.chain.models import AuditChain
from events import cursors, feed
from events.registry import EVENT_TYPES
from provider.api.authentication import bound_organization_id
from provider.api.permissions import SignedInOrToken, StaffPermission

_TYPES = re.compile(r"[a-z_]+\.[a-z_]+(,[a-z_]+\.[a-z_]+)*")


class EventSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="Stable; the webhook-id too.")
    type = serializers.ChoiceField(choices=sorted(EVENT_TYPES))
    occurred_at = serializers.DateTimeField()
    organization_id = serializers.IntegerField(
        allow_null=True, help_text="Null for Gatehouse-wide events (a person's own account)."
    )
    data = serializers.DictField(help_text="The payload; its schema depends on the type.")


class SealedSerializer(serializers.Serializer):
    chain = serializers.IntegerField(
        allow_null=True, help_text="The caller's organization; null for the operator (all)."
    )
    size = serializers.IntegerField(help_text="Audit events sealed into the chain (or all).")
    sealed_through = serializers.DateTimeField(
        allow_null=True, help_text="When the newest sealed audit event happened."
    )


def sealed_status(organization_id: int | None) -> dict[str, Any]:
    """How far sealing has reached: the organization's chain, or every chain together."""
    chains = AuditChain.objects.all()
    if organization_id is not None:
        chains = chains.filter(chain=organization_id)
    totals = chains.aggregate(size=Sum("size"), through=Max("sealed_through_at"))
    through = totals["through"]
    return {
        "chain": organization_id,
        "size": int(totals["size"] or 0),
        "sealed_through": through.isoformat() if through else None,
    }


class EventPageSerializer(serializers.Serializer):
    data = EventSerializer(many=True)
    next_cursor = serializers.CharField(
        help_text="Pass as `after` to read on; never expires while its events are kept."
    )
    has_more = serializers.BooleanField()
    sealed = SealedSerializer(
        help_text="How far the tamper-evident audit log is sealed (docs/events.md)."
    )


class FeedQuerySerializer(serializers.Serializer):
    after = serializers.RegexField(
        r"^[A-Za-z0-9_-]{1,64}$",
        required=False,
        trim_whitespace=False,
        help_text="A `next_cursor` from an earlier page.",
    )
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=feed.MAX_LIMIT,
        help_text=f"Events per page (default {feed.DEFAULT_LIMIT}).",
    )
    types = serializers.RegexField(
        _TYPES.pattern.join("^$"),
        required=False,
        trim_whitespace=False,
        help_text="Comma-separated event types to keep (all when absent).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # DRF reads an empty query parameter as an absent one; here it is a mistake (an empty
        # cursor would silently restart the feed from its oldest event).
        blank = sorted(name for name in self.fields if self.initial_data.get(name) == "")
        if blank:
            raise serializers.ValidationError({name: ["May not be blank."] for name in blank})
        return attrs

    def validate_after(self, value: str) -> Any:
        try:
            return cursors.decode(value)
        except cursors.BadCursor as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_types(self, value: str) -> frozenset[str]:
        names = frozenset(value.split(","))
        unknown = sorted(name for name in names if name not in EVENT_TYPES)
        if unknown:
            raise serializers.ValidationError(f"Unknown event type: {unknown[0][:64]}.")
        return names


class EventFeedView(APIView):
    """Events in commit order after a cursor. With no `after`, from the oldest kept event. A
    page with no new events gives back the same cursor; keep polling with it."""

    permission_classes = (SignedInOrToken, StaffPermission)
    required_scopes = {"GET": ["events:read"]}
    session_perms = {"GET": "events.view_event"}
    extra_error_statuses = ("410",)

    @extend_schema(
        operation_id="events_feed",
        parameters=[FeedQuerySerializer],
        responses={200: EventPageSerializer},
    )
    def get(self, request: Request) -> Response:
        query = FeedQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        after = query.validated_data.get("after")
        limit = query.validated_data.get("limit", feed.DEFAULT_LIMIT)
        types = query.validated_data.get("types", frozenset())
        try:
            page = feed.read_page(
                after=after,
                limit=limit,
                organization_id=bound_organization_id(request),
                types=types,
            )
        except feed.CursorExpired:
            raise Gone() from None
        body: dict[str, Any] = {
            "data": EventSerializer(page.events, many=True).data,
            "next_cursor": cursors.encode(page.next_cursor),
            "has_more": page.has_more,
            "sealed": sealed_status(bound_organization_id(request)),
        }
        return Response(body)


class Gone(exceptions.APIException):
    status_code = 410
    default_detail = (
        "The cursor has expired: events after it are no longer kept. Start again without "
        "`after`, and reconcile what was missed."
    )
    default_code = "cursor_expired"
