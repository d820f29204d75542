"""Webhooks in Django admin: endpoints (turn off and on), deliveries (find, resend) and each
delivery's attempts, read-only.

Changes go through ``events.services`` with the staff member as the actor, so they are
audited as the API's are. Endpoints are registered through the API or the portal, where the
secret is shown once; the admin never shows a secret. The delivery list never counts the
whole table (config/admin_scale.py: an estimate, keyset deep pages; no facets), and its
endpoint filter is an id in the URL, not a list of every endpoint.

Both lists open with a line on the pipeline loop (events/loop_status.py): the horizon lag and
how long ago the loop last beat, so that staff looking at late deliveries see when the cause is
a transaction left open on the cluster or a loop that is not running.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from config.admin_mixins import NoSecretLookupsMixin
from config.admin_scale import ScaledAdminMixin
from config.refusals import Refusal, admin_refusal
from events import services
from events.loop_status import loop_status
from events.models import Delivery, DeliveryAttempt, WebhookEndpoint

LOOP_TEMPLATE = "admin/events/change_list_with_loop.html"


class LoopStatusMixin:
    """The changelist opens with the pipeline loop's state (one query), shown by
    ``LOOP_TEMPLATE``."""

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        context = {"events_loop": loop_status(), **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)  # type: ignore[misc]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(
    LoopStatusMixin, ScaledAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin
):
    list_display = (
        "public_id",
        "organization",
        "host",
        "status",
        "disabled_reason",
        "failing_since",
        "last_success_at",
    )
    list_filter = ("status", "disabled_reason")
    search_fields = ("=public_id",)
    search_exact_fields = ("public_id",)
    list_select_related = ("organization",)
    change_list_template = LOOP_TEMPLATE
    secret_fields = frozenset({"secrets"})
    # The URL may carry the receiver's own token (the audit log keeps only the host too).
    exclude = ("url",)
    readonly_fields = ["host", *(f.name for f in WebhookEndpoint._meta.fields if f.name != "url")]
    actions = ("turn_off", "turn_on")

    @admin.display(description="host")
    def host(self, endpoint: WebhookEndpoint) -> str:
        return services.host_of(endpoint.url)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # POST /api/v1/webhooks/endpoints/ shows the new secret once

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # DELETE through the API is audited; a bulk delete here would not be

    @admin.action(description="Turn off the selected endpoints", permissions=["change"])
    def turn_off(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            services.disable(actor=request.user, endpoint=endpoint)
        self.message_user(request, "Turned off.", level=messages.SUCCESS)

    @admin.action(description="Turn on the selected endpoints", permissions=["change"])
    def turn_on(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            services.enable(actor=request.user, endpoint=endpoint)
        self.message_user(request, "Turned on.", level=messages.SUCCESS)


class EndpointIdFilter(admin.SimpleListFilter):
    """Deliveries of one endpoint (``?endpoint=whe_...``), by its public id."""

    title = "endpoint"
    parameter_name = "endpoint"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(endpoint__public_id=value) if value else queryset


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("at", "status_code", "latency_ms", "retry_after_s", "error", "response_excerpt")
    readonly_fields = fields
    ordering = ("-at",)
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(LoopStatusMixin, ScaledAdminMixin, admin.ModelAdmin):
    list_display = (
        "public_id",
        "endpoint",
        "event_type",
        "status",
        "attempts",
        "last_status",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("status", EndpointIdFilter)
    search_fields = ("=public_id",)
    search_exact_fields = ("public_id",)
    list_select_related = ("endpoint", "event")
    list_per_page = 50
    ordering = ("-id",)
    change_list_template = LOOP_TEMPLATE
    readonly_fields = [f.name for f in Delivery._meta.fields]
    raw_id_fields = ("endpoint", "event", "resend_of")
    inlines = (DeliveryAttemptInline,)
    actions = ("resend",)

    @admin.display(description="type")
    def event_type(self, delivery: Delivery) -> str:
        return delivery.event.type

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Send the selected deliveries again", permissions=["change"])
    def resend(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        sent = 0
        for delivery in queryset.select_related("endpoint"):
            try:
                services.resend(actor=request.user, delivery=delivery)
            except Refusal as refusal:
                admin_refusal(self, request, refusal)
                continue
            sent += 1
        if sent:
            self.message_user(request, f"{sent} sent again.", level=messages.SUCCESS)
