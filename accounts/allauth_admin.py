"""allauth's own admin pages, replaced by ones that stay fast at a million people.

allauth registers admins for its addresses, social accounts and sessions that search with
``icontains`` through the user (a full scan), count every row, and show each row's user with a
query of its own. These keep the same lists, read-only, through config/admin_scale.py: search
by the person (exact address, public id or prefix), estimated counts, keyset deep pages, users
fetched in the list's own query. A session's key is never shown (whoever holds it is signed in).
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from allauth.usersessions.models import UserSession
from django.contrib import admin

from config.admin_mixins import NoSecretLookupsMixin, ReadOnlyAdminMixin
from config.admin_scale import ScaledAdminMixin

for _model in (EmailAddress, SocialAccount, UserSession):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class _PersonRowsAdmin(
    ScaledAdminMixin, ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin
):
    search_fields = ("user__email",)
    search_help_text = "A person's email address (exact), public id, or how it begins."
    search_user_path = "user"
    list_select_related = ("user",)
    ordering = ("-id",)
    sortable_by = ()
    list_per_page = 50


@admin.register(EmailAddress)
class EmailAddressAdmin(_PersonRowsAdmin):
    list_display = ("email", "user", "primary", "verified")
    list_filter = ("primary", "verified")
    fields = ("email", "user", "primary", "verified")
    readonly_fields = fields


@admin.register(SocialAccount)
class SocialAccountAdmin(_PersonRowsAdmin):
    secret_fields = frozenset({"extra_data"})
    list_display = ("user", "provider", "uid", "last_login", "date_joined")
    list_filter = ("provider",)
    fields = ("user", "provider", "uid", "last_login", "date_joined")
    readonly_fields = fields


@admin.register(UserSession)
class UserSessionAdmin(_PersonRowsAdmin):
    secret_fields = frozenset({"session_key", "data"})
    list_display = ("user", "created_at", "last_seen_at", "ip", "user_agent")
    fields = ("user", "created_at", "last_seen_at", "ip", "user_agent")
    readonly_fields = fields
