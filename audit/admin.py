from django.contrib import admin

from audit.models import AuditEvent
from config.admin_mixins import ReadOnlyAdminMixin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: staff can search and filter the log, never change it."""

    list_display = ("occurred_at", "action", "outcome", "actor_text", "target_text", "ip")
    list_filter = ("action", "outcome", ("occurred_at", admin.DateFieldListFilter))
    search_fields = ("actor_text", "target_text", "target_id", "request_id", "=ip")
    date_hierarchy = "occurred_at"
    list_per_page = 50
    show_full_result_count = False  # no COUNT(*) over the whole log on every page
    readonly_fields = [field.name for field in AuditEvent._meta.fields]
