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

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

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


class EventPageSerializer(serializers.Serializer):
    data = EventSerializer(many=True)
    next_cursor = serializers.CharField(
        help_text="Pass as `after` to read on; never expires while its events are kept."
    )
    has_more = serializers.BooleanField()


class EventFeedView(APIView):
    """Events in commit order after a cursor. With no `after`, from the oldest kept event. A
    page with no new events gives back the same cursor; keep polling with it."""

    permission_classes = (SignedInOrToken, StaffPermission)
    required_scopes = {"GET": ["events:read"]}
    session_perms = {"GET": "events.view_event"}
    extra_error_statuses = ("410",)

    @extend_schema(
        operation_id="events_feed",
        parameters=[
            OpenApiParameter(
                "after",
                OpenApiTypes.STR,
                description="A `next_cursor` from an earlier page.",
                pattern=r"^[A-Za-z0-9_-]{1,64}$",
            ),
            OpenApiParameter(
                "limit",
                OpenApiTypes.INT,
                description=f"Events per page, 1 to {feed.MAX_LIMIT} (default "
                f"{feed.DEFAULT_LIMIT}).",
            ),
            OpenApiParameter(
                "types",
                OpenApiTypes.STR,
                description="Comma-separated event types to keep (all when absent).",
                pattern=r"^[a-z_]+\.[a-z_]+(,[a-z_]+\.[a-z_]+)*$",
            ),
        ],
        responses={200: EventPageSerializer},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        after = _cursor(params.get("after"))
        limit = _limit(params.get("limit"))
        types = _types(params.get("types"))
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
        }
        return Response(body)


class Gone(exceptions.APIException):
    status_code = 410
    default_detail = (
        "The cursor has expired: events after it are no longer kept. Start again without "
        "`after`, and reconcile what was missed."
    )
    default_code = "cursor_expired"


def _cursor(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return cursors.decode(value)
    except cursors.BadCursor as exc:
        raise exceptions.ValidationError({"after": [str(exc)]}) from None


def _limit(value: str | None) -> int:
    if value is None:
        return feed.DEFAULT_LIMIT
    if not re.fullmatch(r"[0-9]{1,4}", value) or not 1 <= int(value) <= feed.MAX_LIMIT:
        raise exceptions.ValidationError(
            {"limit": [f"Must be a whole number from 1 to {feed.MAX_LIMIT}."]}
        )
    return int(value)


def _types(value: str | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    names = frozenset(value.split(",")) if _TYPES.fullmatch(value) else frozenset({value})
    unknown = sorted(name for name in names if name not in EVENT_TYPES)
    if unknown:
        raise exceptions.ValidationError({"types": [f"Unknown event type: {unknown[0][:64]}."]})
    return names
