"""SSO connections in the Django admin, for support staff: read-only, and without secrets.

Support looks a connection up here (by its name, slug or organization) to answer "why can't our
people sign in?": its status, settings, domains, certificates and what it still lacks. Changes
are made by the organization's admins in the portal's SSO tab, through sso.services, where they
are checked and audited. The SP private key and the OIDC client secret are never shown, nor
filterable through the URL.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from config.admin_mixins import NoSecretLookupsMixin, ReadOnlyAdminMixin
from config.admin_scale import ScaledAdminMixin
from organizations.admin import ReadOnlyInline
from sso import services
from sso.models import Connection, IdPCertificate

# What support sees, read-only. Not listed, so never shown: sp_private_key_encrypted and
# client_secret_encrypted (only whether a client secret is stored).
GENERAL_FIELDS = (
    "organization",
    "name",
    "slug",
    "public_id",
    "protocol",
    "status",
    "missing",
    "domain_names",
    "created_at",
    "created_by",
    "updated_at",
)
ACCOUNT_FIELDS = ("jit_enabled", "default_role", "groups_attribute", "role_mapping", "mfa_trust")
SAML_FIELDS = (
    "idp_entity_id",
    "idp_sso_url",
    "idp_slo_url",
    "metadata_url",
    "metadata_fetched_at",
    "metadata_error",
    "allow_idp_initiated",
    "sp_entity_id",
    "sp_certificate",
    "email_attribute",
    "first_name_attribute",
    "last_name_attribute",
)
OIDC_FIELDS = (
    "discovery_url",
    "issuer",
    "client_id",
    "client_secret_stored",
    "id_token_algorithm",
    "scopes",
    "token_auth_method",
)


class CertificateInline(ReadOnlyInline):
    model = IdPCertificate
    fields = ("subject", "fingerprint_sha256", "not_before", "not_after", "source", "created_at")
    readonly_fields = fields


@admin.register(Connection)
class ConnectionAdmin(ScaledAdminMixin, ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):
    secret_fields = frozenset({"sp_private_key_encrypted", "client_secret_encrypted"})
    list_display = ("name", "organization", "protocol", "status", "updated_at")
    list_filter = ("protocol", "status")
    list_select_related = ("organization",)
    search_fields = ("=slug",)
    search_help_text = (
        "How the connection's name or slug, or its organization's name, begins; a public id "
        "or an organization's slug (exact)."
    )
    search_name_prefix_fields = ("name", "organization__name")
    search_exact_fields = ("public_id", "organization__slug")
    search_prefix_fields = ("slug",)
    ordering = ("-id",)
    sortable_by = ()
    inlines = (CertificateInline,)
    fieldsets = (
        (None, {"fields": GENERAL_FIELDS}),
        ("Accounts and roles", {"fields": ACCOUNT_FIELDS}),
        ("SAML", {"fields": SAML_FIELDS}),
        ("OpenID Connect", {"fields": OIDC_FIELDS}),
    )
    readonly_fields = GENERAL_FIELDS + ACCOUNT_FIELDS + SAML_FIELDS + OIDC_FIELDS

    @admin.display(description="Domains")
    def domain_names(self, obj: Connection) -> str:
        return ", ".join(d.name for d in obj.domains.all()) or "None"

    @admin.display(description="Still missing before it can be turned on")
    def missing(self, obj: Connection) -> str:
        return "; ".join(services.missing_settings(obj)) or "Nothing"

    @admin.display(description="Client secret", boolean=True)
    def client_secret_stored(self, obj: Connection) -> bool | None:
        return obj.has_client_secret if obj.is_oidc else None

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("domains")


# The SCIM directories, tokens and records (sso/scim/admin.py) register themselves on import.
from sso.scim import admin as scim_admin  # noqa: E402, F401
