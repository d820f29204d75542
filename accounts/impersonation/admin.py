"""Impersonations in the admin, read-only: who signed in as whom, why, when, and how it ended.
The staff member's waiting session key is never shown. Registered from accounts' AppConfig
(accounts/apps.py), beside the user admin."""

from __future__ import annotations

from django.contrib import admin

from accounts.impersonation.models import Impersonation
from config.admin_mixins import NoSecretLookupsMixin, ReadOnlyAdminMixin


@admin.register(Impersonation)
class ImpersonationAdmin(NoSecretLookupsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    secret_fields = frozenset({"staff_session_key"})
    list_display = (
        "requested_at",
        "staff",
        "person",
        "status",
        "minutes",
        "started_at",
        "ended_at",
    )
    list_filter = ("status", "needs_approval")
    # Exact addresses only: an index finds them (no substring scan of the table).
    search_fields = ("=person__email", "=staff__email")
    list_select_related = ("staff", "person")
    ordering = ("-requested_at",)
    show_full_result_count = False
    fields = (
        "public_id",
        "staff",
        "person",
        "reason",
        "minutes",
        "status",
        "needs_approval",
        "requested_at",
        "approval_expires_at",
        "decided_at",
        "decided_by_text",
        "started_at",
        "ends_at",
        "ended_at",
        "person_notified",
    )
    readonly_fields = fields
