"""Staff declare the profile fields in the Django admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.profiling.models import ProfileField
from accounts.profiling.services import save_field


@admin.register(ProfileField)
class ProfileFieldAdmin(admin.ModelAdmin):
    list_display = ("label", "key", "kind", "ask_when", "after_sign_ins", "scope", "required")
    list_filter = ("active", "kind", "ask_when")
    ordering = ("position", "pk")
    fieldsets = (
        (None, {"fields": ("key", "label", "help_text", "kind", "options", "required")}),
        ("When to ask", {"fields": ("ask_when", "after_sign_ins", "scope")}),
        (None, {"fields": ("position", "active")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # The key is what apps receive the value under and what answers are kept by.
        return ("key", "kind") if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        save_field(field=obj, actor=request.user, changed=form.changed_data)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting would drop everyone's answers with it: turn a field off instead.
        return False
