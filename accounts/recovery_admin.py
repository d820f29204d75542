"""The admin's view of scheduled resets of second factors: what is pending, and cancelling it.

Scheduling is an action on the user list (accounts/admin.py). A reset is never edited here:
staff see who asked, why and when it takes effect, and may cancel a pending one with a reason.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from accounts.forms import ReasonForm
from accounts.mfa.services import recovery
from accounts.models import MFAReset, User
from config.admin_mixins import NoSecretLookupsMixin
from config.admin_scale import ScaledAdminMixin
from config.refusals import Refusal, admin_refusal


@admin.action(description="Cancel (asks for a reason)", permissions=["change"])
def cancel_resets(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[MFAReset]
) -> HttpResponse | None:
    """Cancel the selected resets that are still pending, after asking why."""
    pending = queryset.filter(status=MFAReset.Status.PENDING).select_related("user")
    form = ReasonForm(request.POST if "confirm" in request.POST else None)
    if form.is_bound and form.is_valid():
        actor = cast(User, request.user)
        done = 0
        try:
            for reset in pending:
                recovery.cancel_mfa_reset(
                    reset=reset, how="admin", actor=actor, reason=form.cleaned_data["reason"]
                )
                done += 1
        except Refusal as refusal:
            admin_refusal(modeladmin, request, refusal)
            return None
        modeladmin.message_user(request, f"Cancelled: {done} reset(s).", messages.SUCCESS)
        return None
    count = pending.count()
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Cancel the reset: give a reason",
        "opts": modeladmin.model._meta,
        "form": form,
        "users_preview": [reset.user for reset in pending[:20]],
        "user_count": count,
        "more_count": max(0, count - 20),
        "selected_ids": [
            pk
            for pk in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
            if pk.isascii() and pk.isdigit()
        ],
        "select_across": request.POST.get("select_across") == "1",
        "action_name": "cancel_resets",
        "verb": "cancel the scheduled reset of two-step verification",
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/accounts/user/reason_action.html", context)


@admin.register(MFAReset)
class MFAResetAdmin(ScaledAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):
    """Resets of second factors, pending first. Nothing here is a secret (no factor, no code,
    no cancel link): only who, why and when."""

    list_display = ("user", "status", "via", "requested_by", "requested_at", "due_at")
    list_filter = ("status", "via")
    search_fields = ("user__email",)
    search_help_text = "A person's email address (exact), public id, or how it begins."
    search_user_path = "user"
    ordering = ("status", "due_at")
    list_select_related = ("user", "requested_by")
    actions = [cancel_resets]
    fields = (
        "user",
        "status",
        "via",
        "requested_by",
        "reason",
        "requested_at",
        "due_at",
        "cancelled_at",
        "cancelled_how",
        "applied_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A reset is scheduled from the user list, where the reason and the checks are.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
