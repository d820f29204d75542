"""The audit log in Django admin: read-only, and fast with tens of millions of events.

Django's changelist would count and scan the log on every page (T17): its paginator runs a
``COUNT(*)`` over the filtered rows, ``date_hierarchy`` a ``DISTINCT date_trunc`` over them,
facets a count per filter choice, and ``search_fields`` an ``icontains`` that reads every row.
Here (config/admin_scale.py) the count is the planner's estimate, or stops at ``COUNT_CAP``
rows when the planner expects few; deep pages are keyset pages on (occurred_at, id); there is
no date hierarchy and no facets, the date filter is a range on an indexed column, and the
search box takes what an index answers (an event or request id, ``<kind>:<id>``, ``org:<id>``,
or an actor's email or its beginning: audit/search.py).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.models import AuditEvent, AuditEventQuerySet, AuditExport, AuditVerification
from audit.search import search_term
from config.admin_mixins import ReadOnlyAdminMixin
from config.admin_scale import OrganizationIdFilter, ScaledAdminMixin


@admin.register(AuditEvent)
class AuditEventAdmin(ScaledAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: staff can search and filter the log, never change it."""

    list_display = ("occurred_at", "action", "outcome", "actor_text", "target_text", "ip")
    list_filter = (
        "action",
        "outcome",
        ("occurred_at", admin.DateFieldListFilter),
        OrganizationIdFilter,
    )
    search_help_text = (
        "An actor's email or its beginning, an event or request id, "
        "<kind>:<id> (user:42), or org:<id>."
    )
    search_fields = ("actor_text",)  # shows the box; get_search_results does the searching
    list_per_page = 50
    readonly_fields = [field.name for field in AuditEvent._meta.fields]
    sortable_by = ("occurred_at",)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term_text: str
    ) -> tuple[QuerySet[Any], bool]:
        if not search_term_text.strip():
            return queryset, False
        assert isinstance(queryset, AuditEventQuerySet)
        return search_term(queryset, search_term_text), False


@admin.register(AuditExport)
class AuditExportAdmin(ScaledAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Background exports of organizations' logs: their state, never their contents."""

    list_display = ("public_id", "organization", "format", "status", "rows", "created_at")
    list_filter = ("status", "format")
    exclude = ("data",)
    readonly_fields = (
        "public_id",
        "organization",
        "requested_by",
        "format",
        "filters",
        "status",
        "rows",
        "sha256",
        "last_error",
        "created_at",
        "ready_at",
        "expires_at",
    )
    list_select_related = ("organization",)


@admin.register(AuditVerification)
class AuditVerificationAdmin(ScaledAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Background checks of organizations' chains (audit/chain/verifications.py): for staff to
    see a check that is stuck or failed, and why."""

    list_display = (
        "public_id",
        "organization",
        "status",
        "checked",
        "to_check",
        "attempts",
        "created_at",
        "finished_at",
    )
    list_filter = ("status",)
    readonly_fields = (
        "public_id",
        "organization",
        "requested_by",
        "requested_by_app",
        "checkpoint",
        "checkpoint_size",
        "status",
        "attempts",
        "to_check",
        "checked",
        "created_at",
        "queued_at",
        "started_at",
        "claimed_at",
        "finished_at",
        "result",
        "last_error",
    )
    list_select_related = ("organization",)


# Log streams (audit/streams/admin.py) register themselves on import.
from audit.streams import admin as streams_admin  # noqa: E402, F401
