"""The organizations API's serializers: what each endpoint takes and returns, said in the
schema's terms (the services check the values again)."""

from __future__ import annotations

import base64
import binascii
from typing import Any, ClassVar

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api_framework import PatternField, StrictTypes
from organizations.branding.brand import logo_path
from organizations.branding.images import MAX_BYTES
from organizations.models import (
    Domain,
    Invitation,
    LoginMethod,
    Membership,
    Organization,
    OrganizationPolicy,
    Role,
)
from organizations.services.policy import LONGEST_AUDIT_RETENTION, SHORTEST_AUDIT_RETENTION

# What the services accept, said in the schema's terms (the services lower-case and check again).
# A plain https:// address on a named host, or empty: every address it allows, Django's URL check
# takes, and none is longer than the column (500). Bounded in the pattern itself, so that the
# schema states one rule rather than a pattern and a length a client must both satisfy.
LOGO_URL_PATTERN = (
    r"^(?:https://[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)"
    r"{0,3}\.[a-z]{2,63}(?:/[A-Za-z0-9._~%!$&'()*+,;=:@/-]{0,100})?)?$"
)
BRAND_COLOUR_PATTERN = r"^(?:#[0-9a-fA-F]{6})?$"
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
# A logo of MAX_BYTES in base64, padding included, or what fits in an API body with the other
# fields (API_MAX_BODY_BYTES, 64 KB by default; 2 KB left for them): a longer one is a 400
# that names the field rather than the body's 413.
LOGO_BASE64_LENGTH = min(4 * ((MAX_BYTES + 2) // 3), settings.GATEHOUSE_API_MAX_BODY_BYTES - 2048)
SLUG_SCHEMA_PATTERN = r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,48}[a-zA-Z0-9])?$"
DOMAIN_SCHEMA_PATTERN = (
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+"
    r"[a-zA-Z][a-zA-Z0-9-]{0,61}[a-zA-Z0-9]\.?$"
)


@extend_schema_field(
    {"type": "string", "pattern": DOMAIN_SCHEMA_PATTERN, "minLength": 4, "maxLength": 253}
)
class DomainNameField(serializers.CharField):
    """A domain name: ASCII in the schema; the service also takes an internationalised name
    and stores its ASCII (IDNA) form."""


class OrganizationSerializer(StrictTypes, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    logo_url = serializers.CharField(
        read_only=True, help_text="The https:// address of its logo; empty for none."
    )
    slug = PatternField(
        SLUG_SCHEMA_PATTERN,
        help_text="The organization's address in URLs: letters, digits and dashes.",
    )
    display_name = serializers.CharField(
        read_only=True, help_text="The name on its sign-in pages and emails; empty: its name."
    )
    logo = serializers.SerializerMethodField(
        help_text="The address of its uploaded logo, served by Gatehouse; null for none."
    )
    role = serializers.SerializerMethodField()
    owner_email = serializers.EmailField(
        write_only=True,
        required=False,
        max_length=254,
        help_text=(
            "An address invited as an owner of the new organization. A person who creates an "
            "organization is its owner; an app creates it with no member, and this invitation "
            "is how it gets its first owner."
        ),
    )

    class Meta:
        model = Organization
        fields: ClassVar[list[str]] = [
            "id",
            "name",
            "slug",
            "logo_url",
            "logo",
            "display_name",
            "brand_colour",
            "brand_background",
            "brand_text",
            "role",
            "created_at",
            "owner_email",
        ]
        # Logo and colour are set afterwards (PATCH): creating takes a name and a slug.
        read_only_fields: ClassVar[list[str]] = [
            "id",
            "logo_url",
            "brand_colour",
            "brand_background",
            "brand_text",
            "created_at",
            "role",
        ]

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_logo(self, org: Organization) -> str | None:
        if not org.logo_id:
            return None
        path = logo_path(org.logo)
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    def get_role(self, org: Organization) -> str | None:
        roles = self.context.get("roles", {})
        return roles.get(org.pk)


class OrganizationUpdateSerializer(StrictTypes, serializers.Serializer):
    name = serializers.CharField(max_length=120)
    logo_url = PatternField(
        LOGO_URL_PATTERN,
        required=False,
        help_text="An https:// address of the logo, or empty for none.",
        error_messages={"invalid": "Give an https:// address of an image."},
    )
    brand_colour = PatternField(
        BRAND_COLOUR_PATTERN,
        required=False,
        help_text="A colour like #4f46e5, or empty for the default.",
        error_messages={"invalid": "Use a colour like #4f46e5."},
    )
    display_name = serializers.CharField(
        max_length=60,
        required=False,
        allow_blank=True,
        help_text="The name on its sign-in pages and emails, or empty for its name.",
    )
    brand_background = PatternField(
        BRAND_COLOUR_PATTERN,
        required=False,
        help_text="The sign-in page's background, like #f4f5f7, or empty for the default.",
        error_messages={"invalid": "Use a colour like #f4f5f7."},
    )
    brand_text = PatternField(
        BRAND_COLOUR_PATTERN,
        required=False,
        help_text="The colour of text on that background, like #111827, or empty.",
        error_messages={"invalid": "Use a colour like #111827."},
    )
    logo_image = PatternField(
        BASE64_PATTERN,
        required=False,
        write_only=True,
        max_length=LOGO_BASE64_LENGTH,
        error_messages={"invalid": "Send the image in base64."},
        help_text=(
            "A new logo: a PNG, JPEG or WebP image in base64 (at most this long: larger logos, "
            "up to 512 KB, go through the portal). Gatehouse checks it, re-encodes it as PNG "
            "and serves it at `logo`. Empty removes the logo."
        ),
    )

    def validate_logo_image(self, value: str) -> bytes:
        if not value:
            return b""
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise serializers.ValidationError("Send the image in base64.") from None


class MemberSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField(source="user.public_id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    display_name = serializers.CharField(source="user.display_name", read_only=True)

    class Meta:
        model = Membership
        fields: ClassVar[list[str]] = [
            "id",
            "user_id",
            "email",
            "display_name",
            "role",
            "source",
            "created_at",
        ]
        read_only_fields: ClassVar[list[str]] = ["id", "source", "created_at"]


class RoleSerializer(StrictTypes, serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationSerializer(StrictTypes, serializers.ModelSerializer):
    state = serializers.CharField(read_only=True)
    invited_by = serializers.EmailField(
        source="invited_by.email",
        read_only=True,
        default=None,
        allow_null=True,
        help_text=(
            "The member who sent it; null when an app sent it (invited_by_client) or the "
            "person's account is gone."
        ),
    )
    invited_by_client = serializers.SerializerMethodField(
        help_text="The client id of the app that sent it through the API; null otherwise."
    )

    class Meta:
        model = Invitation
        fields: ClassVar[list[str]] = [
            "id",
            "email",
            "role",
            "state",
            "invited_by",
            "invited_by_client",
            "created_at",
            "expires_at",
            "sent_at",
            "accepted_at",
            "revoked_at",
        ]
        read_only_fields: ClassVar[list[str]] = [
            "id",
            "state",
            "invited_by",
            "invited_by_client",
            "created_at",
            "expires_at",
            "sent_at",
            "accepted_at",
            "revoked_at",
        ]
        # Uniqueness is the service's question (it answers with a clear message).
        validators: ClassVar[list[Any]] = []

    def get_invited_by_client(self, invitation: Invitation) -> str | None:
        return invitation.invited_by_client or None


class DomainSerializer(StrictTypes, serializers.ModelSerializer):
    name = DomainNameField(max_length=253)
    verified = serializers.BooleanField(source="is_verified", read_only=True)
    txt_record_name = serializers.CharField(source="record_name", read_only=True)
    txt_record_value = serializers.CharField(source="record_value", read_only=True)

    class Meta:
        model = Domain
        fields: ClassVar[list[str]] = [
            "id",
            "name",
            "verified",
            "verified_at",
            "last_checked_at",
            "last_check_result",
            "txt_record_name",
            "txt_record_value",
        ]
        read_only_fields: ClassVar[list[str]] = [
            "id",
            "verified",
            "verified_at",
            "last_checked_at",
            "last_check_result",
        ]
        validators: ClassVar[list[Any]] = []


class PolicySerializer(StrictTypes, serializers.ModelSerializer):
    allowed_login_methods = serializers.ListField(
        child=serializers.ChoiceField(choices=LoginMethod.choices), allow_empty=False, min_length=1
    )
    session_lifetime_minutes = serializers.IntegerField(
        min_value=5,
        max_value=60 * 24 * 90,
        allow_null=True,
        required=False,
        help_text="Sessions working in the organization end after this long; null: the default.",
    )
    default_role = serializers.ChoiceField(
        choices=[(Role.MEMBER, Role.MEMBER.label), (Role.ADMIN, Role.ADMIN.label)],
        required=False,
        help_text="The role of people who join by domain or SSO.",
    )
    audit_retention_days = serializers.IntegerField(
        min_value=SHORTEST_AUDIT_RETENTION,
        max_value=LONGEST_AUDIT_RETENTION,
        allow_null=True,
        required=False,
        help_text="Audit events older than this many days are deleted; null: kept for ever.",
    )

    class Meta:
        model = OrganizationPolicy
        fields: ClassVar[list[str]] = [
            "require_mfa",
            "risk_step_up",
            "allowed_login_methods",
            "sso_only",
            "session_lifetime_minutes",
            "auto_join_verified_domains",
            "default_role",
            "audit_retention_days",
            "impersonation_needs_approval",
            "updated_at",
        ]
        read_only_fields: ClassVar[list[str]] = ["updated_at"]
