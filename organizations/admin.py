"""Organizations in the Django admin, for support staff: read-only.

Changes to an organization go through its own admins in the portal (or the API), where they
are checked and audited; support looks things up here. Invitation tokens are never shown (only
their hash is stored anyway).

Every list here stays fast at millions of members (config/admin_scale.py): an organization's
page shows its newest members and invitations, with a link to all of them in the Memberships
and Invitations lists, filtered by the organization's id.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import address_is
from accounts.search import MAX_TERM, is_address, user_ids_matching
from config.admin_mixins import NoSecretLookupsMixin, ReadOnlyAdminMixin
from config.admin_scale import OrganizationIdFilter, ScaledAdminMixin
from organizations.branding import admin as branding_admin  # noqa: F401 - registers it
from organizations.models import Domain, Invitation, Membership, Organization, OrganizationPolicy


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# How many rows an organization's page shows of each list that grows with its members.
PREVIEW_ROWS = 20


class NewestRowsFormSet(BaseInlineFormSet):
    """A read-only inline of the newest ``PREVIEW_ROWS`` rows: an organization with a million
    members must not put a million rows on its page."""

    def get_queryset(self) -> Any:
        if not hasattr(self, "_preview"):
            self._preview = super().get_queryset().order_by("-pk")[:PREVIEW_ROWS]
        return self._preview


class MembershipInline(ReadOnlyInline):
    model = Membership
    formset = NewestRowsFormSet
    fields = ("user", "role", "status", "source", "created_at", "ended_at")
    readonly_fields = fields
    verbose_name_plural = f"memberships (the {PREVIEW_ROWS} newest: all of them under Members)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        # Each row's title is str(membership), which names the user and the organization.
        return super().get_queryset(request).select_related("user", "organization")


class DomainInline(ReadOnlyInline):
    model = Domain
    fields = ("name", "verified_at", "last_checked_at", "last_check_result")
    readonly_fields = fields


class InvitationInline(ReadOnlyInline):
    model = Invitation
    formset = NewestRowsFormSet
    verbose_name_plural = f"invitations (the {PREVIEW_ROWS} newest: all of them under Invitations)"
    fields = (
        "email",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Invitation]:
        return super().get_queryset(request).select_related("invited_by", "organization")


class PolicyInline(admin.StackedInline):
    model = OrganizationPolicy
    can_delete = False
    fields = (
        "require_mfa",
        "allowed_login_methods",
        "sso_only",
        "session_lifetime_minutes",
        "auto_join_verified_domains",
        "default_role",
        "updated_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Organization)
class OrganizationAdmin(
    ScaledAdminMixin, ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin
):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name",)
    search_help_text = (
        "A member's email address (exact), a domain, a public id, or how a name or slug begins."
    )
    search_exact_fields = ("public_id",)
    sortable_by = ("name",)
    fields = ("name", "slug", "public_id", "logo_url", "brand_colour", "created_at", "lists")
    readonly_fields = fields
    inlines = (PolicyInline, MembershipInline, InvitationInline, DomainInline)

    @admin.display(description="Members and invitations")
    def lists(self, obj: Organization) -> str:
        query = f"?organization={obj.pk}"
        return format_html(
            '<a href="{}{}">Every member</a> · <a href="{}{}">every invitation</a>',
            reverse("admin:organizations_membership_changelist"),
            query,
            reverse("admin:organizations_invitation_changelist"),
            query,
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Organization], search_term: str
    ) -> tuple[QuerySet[Organization], bool]:
        """An address: the organizations its person belongs to. Otherwise a domain (exact),
        a public id, or the beginning of a name or slug. Each an index; no join, no DISTINCT."""
        term = search_term.strip()[:MAX_TERM]
        if not term:
            return queryset, False
        if is_address(term):
            members = Membership.objects.filter(user_id__in=user_ids_matching(term))
            return queryset.filter(pk__in=members.values("organization_id")), False
        found, _ = super().get_search_results(request, queryset, term)
        prefix = term.lower()
        by_domain = Domain.objects.filter(name=prefix).values("organization_id")
        return (
            found
            | queryset.alias(name_key=Lower("name")).filter(
                Q(name_key__startswith=prefix) | Q(slug__startswith=prefix) | Q(pk__in=by_domain)
            ),
            False,
        )


@admin.register(Membership)
class MembershipAdmin(ScaledAdminMixin, ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):
    """Memberships across organizations, newest first: one organization's members are
    ``?organization=<id>`` (linked from its page), one person's are a search for them."""

    list_display = ("user", "organization", "role", "status", "source", "created_at")
    list_filter = ("role", "status", OrganizationIdFilter)
    list_select_related = ("user", "organization")
    search_fields = ("user__email",)
    search_help_text = "A member's email address (exact), public id, or how it begins."
    search_user_path = "user"
    ordering = ("-id",)
    sortable_by = ()
    list_per_page = 50
    fields = ("organization", "user", "role", "status", "source", "created_at", "ended_at")
    readonly_fields = fields


@admin.register(Invitation)
class InvitationAdmin(ScaledAdminMixin, ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):
    """Invitations across organizations ("I never got my invitation" tickets)."""

    secret_fields = frozenset({"token_hash"})
    list_display = (
        "email",
        "organization",
        "role",
        "created_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    )
    list_filter = ("role", OrganizationIdFilter)
    list_select_related = ("organization",)
    search_fields = ("=email",)
    search_help_text = "The invited address (exact), or an organization's slug."
    ordering = ("-created_at", "-id")
    sortable_by = ("created_at",)
    fields = (
        "organization",
        "email",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "sent_at",
        "send_count",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    )
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Invitation], search_term: str
    ) -> tuple[QuerySet[Invitation], bool]:
        term = search_term.strip()[:MAX_TERM]
        if not term:
            return queryset, False
        if is_address(term):
            return queryset.filter(address_is(term)), False
        return queryset.filter(organization__slug=term.lower()), False
