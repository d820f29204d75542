"""Signing keys in the admin: read-only, with publish, activate and retire actions."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import User
from config.admin_mixins import NoSecretLookupsMixin, ReadOnlyAdminMixin
from provider.admin.common import reasoned_action
from provider.forms import AdminReasonForm
from provider.models import KeyState, SigningKey
from provider.services import keys as key_services


def _publish(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    form: AdminReasonForm,
) -> None:
    for alg in sorted(set(queryset.values_list("alg", flat=True))):
        row = key_services.publish_next_key(
            actor=request.user, alg=alg, reason=form.cleaned_data["reason"]
        )
        model_admin.message_user(
            request, f"Published {alg} key {row.kid}; it signs once activated.", messages.SUCCESS
        )


def _activate(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    form: AdminReasonForm,
) -> None:
    for alg in sorted(set(queryset.filter(state=KeyState.NEXT).values_list("alg", flat=True))):
        row = key_services.activate_next_key(
            actor=request.user,
            alg=alg,
            force=form.cleaned_data["force"],
            reason=form.cleaned_data["reason"],
        )
        model_admin.message_user(request, f"{alg} key {row.kid} signs now.", messages.SUCCESS)


def _retire(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    form: AdminReasonForm,
) -> None:
    """Retire the selected retiring keys once their tokens have expired, or at once when
    forced (a compromised key)."""
    retired: list[str] = []
    for key in queryset.filter(state=KeyState.RETIRING):
        if form.cleaned_data["force"]:
            retired += key_services.retire_keys(
                actor=request.user, force_kid=key.kid, reason=form.cleaned_data["reason"]
            )
    if not form.cleaned_data["force"]:
        due = set(queryset.filter(state=KeyState.RETIRING).values_list("kid", flat=True))
        retired += [
            kid
            for kid in key_services.retire_keys(
                actor=request.user, reason=form.cleaned_data["reason"]
            )
            if kid in due
        ]
    model_admin.message_user(
        request,
        f"Retired: {', '.join(retired)}." if retired else "No selected key was due to retire.",
        messages.SUCCESS if retired else messages.WARNING,
    )


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    secret_fields = frozenset({"private_jwk"})
    list_display = ("kid", "alg", "state", "created_at", "activated_at", "retiring_at")
    list_filter = ("alg", "state")
    fields = ("kid", "alg", "state", "public_jwk", "created_at", "activated_at", "retiring_at")
    readonly_fields = fields
    ordering = ("-created_at",)
    actions = [
        reasoned_action(name="publish_next", verb="publish the next key", perform=_publish),
        reasoned_action(name="activate_next", verb="activate", perform=_activate, force=True),
        reasoned_action(name="retire", verb="retire", perform=_retire, force=True),
    ]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The list's actions need "change"; a key's own page stays view-only, so that no form
        # can save a key row outside provider.services.keys.
        if obj is not None:
            return False
        return bool(cast(User, request.user).has_perm("provider.change_signingkey"))
