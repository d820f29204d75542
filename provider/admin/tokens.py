"""Tokens and grants in the admin: read-only, without their values, checksums or codes."""

from __future__ import annotations

from django.contrib import admin

from config.admin_mixins import NoSecretLookupsMixin, ReadOnlyAdminMixin
from config.admin_scale import ScaledAdminMixin
from provider.admin.common import TOKEN_FIELDS
from provider.models import AccessToken, DeviceGrant, Grant, IDToken, RefreshToken


class TokenAdmin(ScaledAdminMixin, ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):  # type: ignore[type-arg,misc]
    """Newest first by primary key; the search box takes a person (exact address, public id or
    prefix) or an application's client id (config/admin_scale.py)."""

    secret_fields = TOKEN_FIELDS
    list_select_related = ["application", "user"]
    search_fields = ("=application__client_id",)
    search_help_text = "A person's email address (exact), public id or how it begins; a client id."
    search_user_path = "user"
    search_exact_fields = ("application__client_id",)
    ordering = ("-pk",)
    sortable_by = ()


@admin.register(AccessToken)
class AccessTokenAdmin(TokenAdmin):
    list_display = ("pk", "application", "user", "api", "organization", "scope", "expires")
    fields = (
        "application",
        "user",
        "api",
        "organization",
        "scope",
        "expires",
        "created",
        "sid",
        "family",
    )
    readonly_fields = fields


@admin.register(RefreshToken)
class RefreshTokenAdmin(TokenAdmin):
    list_display = ("pk", "application", "user", "api", "organization", "revoked", "created")
    fields = (
        "application",
        "user",
        "api",
        "organization",
        "token_family",
        "family_expires_at",
        "revoked",
        "created",
    )
    readonly_fields = fields


@admin.register(Grant)
class GrantAdmin(TokenAdmin):
    list_display = ("pk", "application", "user", "expires", "used_at")
    fields = ("application", "user", "scope", "redirect_uri", "expires", "used_at", "created")
    readonly_fields = fields


@admin.register(IDToken)
class IDTokenAdmin(TokenAdmin):
    list_display = ("pk", "application", "user", "expires")
    fields = ("application", "user", "scope", "expires", "created", "sid")
    readonly_fields = fields


@admin.register(DeviceGrant)
class DeviceGrantAdmin(TokenAdmin):
    list_display = ("pk", "client_id", "user", "status", "expires", "used_at")
    list_select_related = ["user"]
    search_fields = ("=client_id",)
    search_exact_fields = ("client_id",)
    fields = ("client_id", "user", "status", "scope", "expires", "used_at", "failed_attempts")
    readonly_fields = fields
