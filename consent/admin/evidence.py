"""Evidence in the admin, read-only for everyone: consent events with their signed receipts,
the receipt keys (public halves only), and data subject requests. Nobody changes or deletes
evidence here, and no secret (a receipt key's private half, a download token's hash, the
identifiers an erasure works through) reaches a page, a form or a URL filter."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from config.admin_mixins import NoSecretLookupsMixin, ReadOnlyAdminMixin
from config.admin_scale import ScaledAdminMixin
from consent.models import ConsentEvent, DataSubjectRequest, ReceiptKey

EVENT_FIELDS = (
    "public_id",
    "user",
    "purpose",
    "decision",
    "method",
    "version",
    "organization_id",
    "occurred_at",
    "recorded_at",
    "ip",
    "user_agent",
    "actor_text",
    "request_id",
    "details",
    "receipt_text",
)


@admin.register(ConsentEvent)
class ConsentEventAdmin(
    ScaledAdminMixin, ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin
):
    """Consent history, read-only for everyone: events are evidence.

    A user's history is this list filtered by ``?user__id__exact=<pk>`` (the user's page links
    to it); Django allows that lookup because it stays on the user's own key.
    """

    list_display = ("occurred_at", "user_email", "purpose", "decision", "method", "version", "ip")
    list_filter = ("decision", "method", "purpose")
    list_select_related = ("user", "purpose", "version__document")
    search_fields = ("user__email",)
    search_help_text = (
        "A person's email address (exact), public id, or how it begins; or an event's id."
    )
    search_user_path = "user"
    search_exact_fields = ("public_id",)
    sortable_by = ("occurred_at",)
    list_per_page = 50
    fields = EVENT_FIELDS
    readonly_fields = EVENT_FIELDS

    @admin.display(description="User")
    def user_email(self, obj: ConsentEvent) -> str:
        return obj.user.email

    @admin.display(description="Receipt (compact JWS, as issued)")
    def receipt_text(self, obj: ConsentEvent) -> str:
        return format_html(
            '<pre style="white-space: pre-wrap; word-break: break-all; margin: 0">{}</pre>',
            obj.receipt,
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConsentEvent]:
        return super().get_queryset(request).select_related("user", "purpose", "version__document")


RECEIPT_KEY_FIELDS = ("kid", "algorithm", "status", "created_at", "retired_at", "public_jwk")


@admin.register(ReceiptKey)
class ReceiptKeyAdmin(ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):
    """Which keys sign receipts, and since when. Only the public half is ever shown: the
    encrypted private key is not loaded, listed, displayed or filterable."""

    secret_fields = frozenset({"private_key_encrypted"})
    list_display = ("kid", "algorithm", "status", "created_at", "retired_at")
    list_filter = ("status",)
    search_fields = ("=kid",)
    show_full_result_count = False
    fields = RECEIPT_KEY_FIELDS
    readonly_fields = RECEIPT_KEY_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReceiptKey]:
        return super().get_queryset(request).defer("private_key_encrypted")


REQUEST_FIELDS = (
    "public_id",
    "user_link",
    "kind",
    "status",
    "via",
    "requested_at",
    "scheduled_for",
    "started_at",
    "cancelled_at",
    "completed_at",
    "download_expires_at",
    "downloaded_at",
    "attempts",
    "last_error",
    "pseudonym",
)


@admin.register(DataSubjectRequest)
class DataSubjectRequestAdmin(
    ScaledAdminMixin, ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin
):
    """Export and erasure requests, read-only: support staff answer "where is my export?" and
    "when will my account be deleted?" here, and a request on hold shows why. The download
    token's hash and the identifiers an erasure is working through are never shown or
    filterable. A user's requests are ``?user__id__exact=<pk>`` (linked from the user's page)."""

    secret_fields = frozenset({"download_token_hash", "identifiers"})
    list_display = ("requested_at", "user_email", "kind", "status", "via", "scheduled_for")
    list_filter = ("kind", "status", "via")
    list_select_related = ("user",)
    search_fields = ("user__email",)
    search_help_text = (
        "A person's email address (exact), public id, or how it begins; a request's id or "
        "pseudonym."
    )
    search_user_path = "user"
    search_exact_fields = ("public_id", "pseudonym")
    ordering = ("-requested_at", "-id")
    sortable_by = ("requested_at",)
    list_per_page = 50
    fields = REQUEST_FIELDS
    readonly_fields = REQUEST_FIELDS

    @admin.display(description="User")
    def user_email(self, obj: DataSubjectRequest) -> str:
        return obj.user.email

    @admin.display(description="User")
    def user_link(self, obj: DataSubjectRequest) -> str:
        url = reverse("admin:accounts_user_change", args=[obj.user_id])
        return format_html('<a href="{}">{}</a>', url, obj.user.email)

    def get_queryset(self, request: HttpRequest) -> QuerySet[DataSubjectRequest]:
        return super().get_queryset(request).select_related("user").defer("identifiers")
