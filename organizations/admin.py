"""Organizations in the Django admin, for support staff: read-only.

Changes to an organization go through its own admins in the portal (or the API), where they
are checked and audited; support looks things up here. Invitation tokens are never shown (only
their hash is stored anyway).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from config.admin_mixins import NoSecretLookupsMixin, ReadOnlyAdminMixin
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


class MembershipInline(ReadOnlyInline):
    model = Membership
    fields = ("user", "role", "status", "source", "created_at", "ended_at")
    readonly_fields = fields


class DomainInline(ReadOnlyInline):
    model = Domain
    fields = ("name", "verified_at", "last_checked_at", "last_check_result")
    readonly_fields = fields


class InvitationInline(ReadOnlyInline):
    model = Invitation
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
class OrganizationAdmin(ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "=slug", "domains__name", "memberships__user__email")
    fields = ("name", "slug", "public_id", "logo_url", "brand_colour", "created_at")
    readonly_fields = fields
    inlines = (PolicyInline, MembershipInline, InvitationInline, DomainInline)
    show_full_result_count = False

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> Any:
        results, _ = super().get_search_results(request, queryset, search_term)
        return results.distinct(), False


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):
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
    list_filter = ("role",)
    search_fields = ("=email", "organization__slug")
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
    show_full_result_count = False
