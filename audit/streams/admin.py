"""Log streams in the Django admin, for support staff: read-only, and without the credential.

Support answers "why did our SIEM stop receiving events?" here: the stream's status, its place
in the chain, when it last delivered, its last error and when it will try again. The
organization's admins change streams in the portal's Log streams tab.
"""

from __future__ import annotations

from django.contrib import admin

from audit.streams.models import LogStream
from config.admin_mixins import NoSecretLookupsMixin, ReadOnlyAdminMixin


@admin.register(LogStream)
class LogStreamAdmin(NoSecretLookupsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    secret_fields = frozenset({"credential_encrypted"})
    list_display = (
        "name",
        "organization",
        "kind",
        "format",
        "status",
        "position",
        "last_success_at",
    )
    list_filter = ("status", "kind", "format")
    list_select_related = ("organization",)
    search_fields = ("organization__name", "=organization__slug", "=public_id")
    show_full_result_count = False
    fields = (
        "organization",
        "public_id",
        "name",
        "kind",
        "format",
        "destination_text",
        "actions",
        "status",
        "position",
        "last_success_at",
        "failing_since",
        "last_error",
        "last_gap",
        "attempts",
        "next_attempt_at",
        "queued_at",
        "claimed_at",
        "created_by_text",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
