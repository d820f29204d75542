"""What the person page adds to the user admin: its panels and actions, and a change form
whose query count does not depend on how many permissions exist or the person holds."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.db.models import ManyToManyField
from django.forms import ModelMultipleChoiceField
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

from accounts.admin_person import views

# Shown to staff who may not change privileges, instead of the two many-to-many fields
# (Django would read each permission's content type one query at a time to print them).
PRIVILEGE_DISPLAYS = ("staff_groups", "staff_permissions")


class PersonPageMixin(admin.ModelAdmin):  # type: ignore[type-arg]
    """For ``accounts.admin.UserAdmin``: the person at a glance above the change form
    (templates/admin/accounts/user/change_form.html) and the support actions' URLs."""

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/support/<slug:action_name>/",
                self.admin_site.admin_view(partial(views.support_action, model_admin=self)),
                name="accounts_user_support_action",
            ),
            *super().get_urls(),
        ]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        if obj is not None and obj.pk is not None:
            context.update(views.page_context(self, request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def formfield_for_manytomany(
        self, db_field: ManyToManyField[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelMultipleChoiceField[Any] | None:
        if db_field.name == "user_permissions":
            # Each option's label names its content type: read them in the same query.
            kwargs["queryset"] = Permission.objects.select_related("content_type")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        swap = {"groups": "staff_groups", "user_permissions": "staff_permissions"}
        return [
            (name, {**options, "fields": tuple(_swapped(f, swap) for f in options["fields"])})
            for name, options in fieldsets
        ]

    @admin.display(description="Groups")
    def staff_groups(self, obj: Any) -> str:
        if obj.pk is None:
            return "-"
        names = Group.objects.filter(user=obj).order_by("name").values_list("name", flat=True)
        return ", ".join(names) or "None"

    @admin.display(description="Permissions")
    def staff_permissions(self, obj: Any) -> str:
        if obj.pk is None:
            return "-"
        held = Permission.objects.filter(user=obj).select_related("content_type")
        return ", ".join(str(p) for p in held.order_by("content_type__app_label", "codename"))


def _swapped(field: Any, swap: dict[str, str]) -> Any:
    return swap.get(field, field) if isinstance(field, str) else field
