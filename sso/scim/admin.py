"""SCIM directories in the Django admin, for support staff: read-only, and without secrets.

Support answers "why is this person not provisioned?" here: the directory's state, domains and
counts; its tokens by prefix and dates (never the digest or its key id, which are neither shown
nor filterable through the URL); the records it wrote, with their link state and account. The
organization's admins change the directory in the portal's SCIM tab, through
sso.scim.directories, where changes are checked and audited.
"""

from __future__ import annotations

import contextlib
import unicodedata
import uuid
from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from config.admin_mixins import NoSecretLookupsMixin, ReadOnlyAdminMixin
from config.admin_scale import ScaledAdminMixin
from organizations.admin import ReadOnlyInline
from sso.scim.models import Directory, DirectoryToken, ScimGroup, ScimUser

TOKEN_FIELDS = ("prefix", "created_at", "created_by", "last_used_at", "expires_at", "revoked_at")


class TokenInline(ReadOnlyInline):
    model = DirectoryToken
    fields = TOKEN_FIELDS
    readonly_fields = fields


@admin.register(Directory)
class DirectoryAdmin(ScaledAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("organization", "status", "user_count", "group_count", "created_at")
    list_filter = ("status",)
    list_select_related = ("organization",)
    search_fields = ("=public_id",)
    search_help_text = "The organization's slug or the directory's public id (exact)."
    search_exact_fields = ("organization__slug", "public_id")
    fields = (
        "organization",
        "public_id",
        "status",
        "paused_at",
        "domain_names",
        "default_role",
        "put_without_active_deactivates",
        "user_count",
        "group_count",
        "created_at",
        "created_by",
    )
    readonly_fields = fields
    inlines = (TokenInline,)

    @admin.display(description="Domains")
    def domain_names(self, obj: Directory) -> str:
        return ", ".join(sorted(d.name for d in obj.domains.all())) or "None"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("domains")


@admin.register(DirectoryToken)
class DirectoryTokenAdmin(
    ScaledAdminMixin, ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin
):
    secret_fields = frozenset({"digest", "key_id"})
    list_display = ("prefix", "directory", *TOKEN_FIELDS[1:])
    list_select_related = ("directory__organization", "created_by")
    search_fields = ("=prefix",)
    search_help_text = "The token's prefix, or the organization's slug (exact)."
    search_exact_fields = ("prefix", "directory__organization__slug")
    fields = ("directory", *TOKEN_FIELDS)
    readonly_fields = fields


@admin.register(ScimUser)
class ScimUserAdmin(ScaledAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user_name", "external_id", "active", "link_state", "user", "directory")
    list_filter = ("active", "link_state")
    list_select_related = ("user", "directory__organization")
    # Searched by the start of userName (on its stored key), an exact externalId or SCIM id:
    # see get_search_results.
    search_fields = ("user_name",)
    search_help_text = "The start of the user name, or an exact externalId or SCIM id."
    fields = (
        "directory",
        "public_id",
        "user_name",
        "external_id",
        "display_name",
        "work_email",
        "active",
        "link_state",
        "user",
        "version",
        "created_at",
        "updated_at",
        "document",
    )
    readonly_fields = fields

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> Any:
        term = search_term.strip()
        if not term:
            return queryset, False
        key = unicodedata.normalize("NFC", term).lower()
        found = queryset.filter(user_name_key__startswith=key) | queryset.filter(external_id=term)
        with contextlib.suppress(ValueError):
            found = found | queryset.filter(public_id=uuid.UUID(term))
        return found, False


@admin.register(ScimGroup)
class ScimGroupAdmin(ScaledAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("display_name", "external_id", "role", "directory")
    list_filter = ("role",)
    list_select_related = ("directory__organization",)
    search_fields = ("display_name",)
    fields = (
        "directory",
        "public_id",
        "display_name",
        "external_id",
        "role",
        "version",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> Any:
        term = search_term.strip()
        if not term:
            return queryset, False
        key = unicodedata.normalize("NFC", term).lower()
        return queryset.filter(display_name_key__startswith=key), False
