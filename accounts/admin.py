"""Django admin for support staff: find a user fast, act with a reason, never see a secret."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from allauth.account.models import EmailAddress
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from accounts import services
from accounts.admin_person.actions import may_act_on
from accounts.admin_person.admin import PRIVILEGE_DISPLAYS, PersonPageMixin
from accounts.forms import ReasonForm
from accounts.mfa.services import recovery
from accounts.models import MFAReset, OutboundEmail, User, address_is
from config.admin_mixins import NoSecretLookupsMixin
from config.admin_scale import ScaledAdminMixin
from config.refusals import Refusal, admin_refusal


class EmailVerifiedFilter(admin.SimpleListFilter):
    """People with (or without) a verified address, as ``EXISTS``: a semi-join probed per row
    of the list's index walk, never a ``DISTINCT`` over a join of every address."""

    title = "email verified"
    parameter_name = "verified"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Verified"), ("no", "Not verified")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        verified = Exists(EmailAddress.objects.filter(user=OuterRef("pk"), verified=True))
        if self.value() == "yes":
            return queryset.filter(verified)
        if self.value() == "no":
            return queryset.filter(~verified)
        return queryset


REASON_PAGE_PREVIEW = 20


# Support agents act on customers; staff accounts are for superusers (admin_person.actions).
_may_act_on = may_act_on


def _reasoned_action(
    *,
    name: str,
    verb: str,
    perform: Callable[..., Any],
    applies: Callable[[User, User], bool],
    permissions: tuple[str, ...] = ("change",),
    done_note: str = "",
) -> Callable[[admin.ModelAdmin, HttpRequest, QuerySet[User]], HttpResponse | None]:
    """An admin action that first asks for a reason, then calls a service per user.

    ``perform(user=, actor=, reason=)`` returns something true when it acted;
    ``applies(user, actor)`` says whether it may act on that user at all. Only staff who hold
    one of ``permissions`` (the model admin's ``has_<name>_permission``) are offered the
    action, and Django refuses it to anyone else. The
    confirmation page posts back to the same changelist URL (so its filters still apply) with
    the ids the changelist page posted, plus ``select_across`` when "select all" was used: the
    selection is never copied into thousands of hidden fields.
    """

    def _perform_each(queryset: QuerySet[User], request: HttpRequest, reason: str) -> int:
        """Act on every selected user the action applies to; returns on how many it acted."""
        actor = cast(User, request.user)
        done = 0
        # An erased account is a tombstone: nothing is done to it.
        for user in queryset.filter(erased_at__isnull=True).iterator(chunk_size=500):
            if applies(user, actor) and perform(user=user, actor=actor, reason=reason):
                done += 1
        return done

    def action(
        modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[User]
    ) -> HttpResponse | None:
        form = ReasonForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            try:
                done = _perform_each(queryset, request, form.cleaned_data["reason"])
            except Refusal as refusal:
                admin_refusal(modeladmin, request, refusal)
                return None
            modeladmin.message_user(
                request, f"{verb.capitalize()}: {done} user(s).{done_note}", messages.SUCCESS
            )
            return None
        select_across = request.POST.get("select_across") == "1"
        user_count = queryset.count()
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": f"{verb.capitalize()}: give a reason",
            "opts": modeladmin.model._meta,
            "form": form,
            "users_preview": queryset[:REASON_PAGE_PREVIEW],
            "user_count": user_count,
            "more_count": max(0, user_count - REASON_PAGE_PREVIEW),
            # Echo what the changelist posted (one page at most): Django needs a selection to
            # run the action again, and with select_across it then acts on the whole filter.
            "selected_ids": [
                pk
                for pk in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
                if pk.isascii() and pk.isdigit()
            ],
            "select_across": select_across,
            "action_name": name,
            "verb": verb,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/accounts/user/reason_action.html", context)

    action.__name__ = name
    action.allowed_permissions = permissions  # type: ignore[attr-defined]
    action.short_description = f"{verb.capitalize()} (asks for a reason)"  # type: ignore[attr-defined]
    return action


block_users = _reasoned_action(
    name="block_users",
    verb="block",
    perform=services.block_user,
    applies=lambda user, actor: not user.is_blocked and _may_act_on(user, actor),
)
unblock_users = _reasoned_action(
    name="unblock_users",
    verb="unblock",
    perform=services.unblock_user,
    applies=lambda user, actor: user.is_blocked and _may_act_on(user, actor),
)
resend_verification = _reasoned_action(
    name="resend_verification",
    verb="resend the verification email",
    perform=services.resend_verification,
    applies=lambda user, actor: True,
)

reset_mfa = _reasoned_action(
    name="reset_mfa",
    verb="schedule a reset of two-step verification",
    perform=lambda **kwargs: recovery.schedule_mfa_reset(via=MFAReset.Via.SUPPORT, **kwargs),
    applies=_may_act_on,
    # Changing users is not enough: removing someone's factors is its own permission.
    permissions=("schedule_mfa_reset",),
    done_note=" Each takes effect after the waiting period unless the person cancels it; "
    "they have been emailed on every verified address.",
)


# Fields only a superuser may change, and only with an audit trail (see save_model).
PRIVILEGE_FIELDS = ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")


@admin.register(User)
class UserAdmin(PersonPageMixin, ScaledAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):
    secret_fields = frozenset({"password"})
    list_display = ("email", "display_name", "is_blocked", "is_staff", "date_joined", "last_login")
    list_filter = (
        "is_blocked",
        EmailVerifiedFilter,
        "is_staff",
        "is_active",
        ("date_joined", admin.DateFieldListFilter),
        ("erased_at", admin.EmptyFieldListFilter),
    )
    # The box is routed (config/admin_scale.py, accounts/search.py): an address finds its
    # person by exact address, a public id by id, anything else by prefix of address or name.
    search_fields = ("email",)
    search_user_path = "pk"
    search_help_text = "An email address (exact), a public id, or how an address or a name begins."
    ordering = ("-date_joined", "-id")
    # Sorting by anything else would sort the whole table (accounts_user_joined, the unique
    # address index and the primary key serve these).
    sortable_by = ("email", "date_joined")
    list_per_page = 50
    actions = [block_users, unblock_users, resend_verification, reset_mfa]
    readonly_fields = (
        "mfa_reset_pending",
        "email",
        "public_id",
        "date_joined",
        "last_login",
        "is_blocked",
        "blocked_reason",
        "blocked_at",
        "erased_at",
        *PRIVILEGE_DISPLAYS,
    )
    # The password hash is deliberately absent: support staff never see or set secrets here.
    # What the person has (addresses, factors, sessions, organizations...) is shown above the
    # form by the person page (PersonPageMixin); the form keeps only what staff may edit.
    fieldsets = (
        (None, {"fields": ("email", "display_name", "public_id")}),
        (
            "Status",
            {"fields": ("is_active", "is_blocked", "blocked_reason", "blocked_at", "erased_at")},
        ),
        (
            "Two-step verification",
            {
                "fields": ("mfa_required", "mfa_reset_pending"),
                "description": "To remove every factor of a user who lost them, use “Reset "
                "second factors” above: it asks for a reason, emails every verified address of "
                "the user at once, and takes effect after the waiting period unless cancelled.",
            },
        ),
        ("Staff", {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("date_joined", "last_login")}),
    )
    filter_horizontal = ("groups", "user_permissions")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        readonly = tuple(self.readonly_fields)
        if not request.user.is_superuser:
            # Support staff cannot grant themselves (or anyone) more power.
            readonly += PRIVILEGE_FIELDS
        return readonly

    @admin.display(description="Scheduled reset")
    def mfa_reset_pending(self, obj: User) -> str:
        reset = recovery.pending_reset(obj) if obj.pk is not None else None
        if reset is None:
            return "None"
        url = reverse("admin:accounts_mfareset_change", args=[reset.pk])
        return format_html(
            '<a href="{}">Every factor will be removed on {} UTC</a> ({}): cancel it there.',
            url,
            f"{reset.due_at:%Y-%m-%d %H:%M}",
            reset.get_via_display(),
        )

    def has_schedule_mfa_reset_permission(self, request: HttpRequest) -> bool:
        # Django offers an action to staff holding any one of its permissions: both are
        # asked for here, in one.
        return self.has_change_permission(request) and request.user.has_perm(
            "accounts.add_mfareset"
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # An erased account is a tombstone kept for the records that point at it: nobody
        # brings it back or edits it.
        if obj is not None and obj.erased_at is not None:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        services.record_staff_edit(
            user=obj, actor=cast(User, request.user), changed_fields=list(form.changed_data)
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # People sign up themselves (or arrive by invitation or SSO); staff do not mint accounts.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboundEmail)
class OutboundEmailAdmin(ScaledAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):
    """Delivery status of email, for "I never got the email" tickets. Bodies are never shown."""

    secret_fields = frozenset({"text_body", "html_body"})
    list_display = ("created_at", "to", "template", "status", "attempts", "sent_at")
    list_filter = ("status", "template")
    search_fields = ("=to",)
    search_help_text = "The recipient's address (exact)."
    sortable_by = ("created_at",)
    fields = (
        "to",
        "template",
        "subject",
        "status",
        "attempts",
        "attempted_at",
        "last_error",
        "created_at",
        "sent_at",
    )
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[OutboundEmail], search_term: str
    ) -> tuple[QuerySet[OutboundEmail], bool]:
        term = search_term.strip()[:254]
        if not term:
            return queryset, False
        return queryset.filter(address_is(term, "to")), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Scheduled resets of second factors have their own page (accounts/recovery_admin.py), and
# allauth's address, social account and session pages are replaced (accounts/allauth_admin.py).
from accounts import allauth_admin, recovery_admin  # noqa: E402, F401
from accounts.profiling import admin as profiling_admin  # noqa: E402, F401  (registers it)
