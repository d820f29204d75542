"""What the applications and APIs endpoints read and write. A client secret appears in exactly
two answers, the one that creates a confidential app and the one that rotates its secret, and
is never readable again (the database holds only its keyed digest)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from rest_framework import serializers

from config.api_framework import PatternField, StrictTypes
from provider.models import Api, Application, ApplicationKind, TokenFormat


class ApiAccessSerializer(serializers.Serializer[Any]):
    api = serializers.CharField(source="api.identifier", read_only=True)
    scopes = serializers.ListField(child=serializers.CharField(), read_only=True)


class ApplicationSerializer(serializers.ModelSerializer[Application]):
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    # Empty when not set, so plain text rather than the model's URL format.
    logo_url = serializers.CharField(read_only=True)
    backchannel_logout_uri = serializers.CharField(read_only=True)
    redirect_uris = serializers.SerializerMethodField()
    post_logout_redirect_uris = serializers.SerializerMethodField()
    disabled = serializers.SerializerMethodField()
    apis = ApiAccessSerializer(source="api_access", many=True, read_only=True)
    created_at = serializers.DateTimeField(source="created", read_only=True)

    class Meta:
        model = Application
        fields: tuple[str, ...] = (
            "client_id",
            "name",
            "kind",
            "organization",
            "redirect_uris",
            "post_logout_redirect_uris",
            "allowed_scopes",
            "first_party",
            "logo_url",
            "description",
            "backchannel_logout_uri",
            "algorithm",
            "rate_limit_per_minute",
            "disabled",
            "apis",
            "created_at",
        )
        read_only_fields = fields

    def get_redirect_uris(self, app: Application) -> list[str]:
        return app.redirect_uris.split()

    def get_post_logout_redirect_uris(self, app: Application) -> list[str]:
        return app.post_logout_redirect_uris.split()

    def get_disabled(self, app: Application) -> bool:
        return app.disabled_at is not None


class CreatedApplicationSerializer(ApplicationSerializer):
    # From the context, never from the model: DOT's own client_secret column holds a random
    # value that is never shown (provider/models/applications.py).
    client_secret = serializers.SerializerMethodField(
        help_text="Shown once, now: Gatehouse keeps only a digest. Null for public apps."
    )

    class Meta(ApplicationSerializer.Meta):
        fields = (*ApplicationSerializer.Meta.fields, "client_secret")
        read_only_fields = fields

    def get_client_secret(self, app: Application) -> str | None:
        secret = self.context.get("client_secret")
        return str(secret) if secret is not None else None


def _parsable(value: str) -> str:
    # urlsplit raises on a malformed bracketed host ("https://[zz/"): a 400, not a 500.
    try:
        urlsplit(value)
    except ValueError:
        raise serializers.ValidationError(f"{value!r} is not a URL.") from None
    return value


class UriField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        return _parsable(super().to_internal_value(data))


class ApplicationCreateSerializer(StrictTypes, serializers.Serializer[Any]):
    name = serializers.CharField(max_length=255)
    kind = serializers.ChoiceField(choices=ApplicationKind.values)
    organization = serializers.SlugField(
        required=False, help_text="Bind an M2M app to this organization (its slug)."
    )
    redirect_uris = serializers.ListField(
        child=UriField(max_length=500), required=False, max_length=20
    )
    post_logout_redirect_uris = serializers.ListField(
        child=UriField(max_length=500), required=False, max_length=20
    )
    allowed_scopes = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=10
    )
    first_party = serializers.BooleanField(required=False, default=False)
    logo_url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    description = serializers.CharField(required=False, allow_blank=True, max_length=500)
    backchannel_logout_uri = serializers.CharField(required=False, allow_blank=True, max_length=500)
    algorithm = serializers.ChoiceField(choices=["RS256", "ES256"], required=False)
    apis = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField(max_length=100), max_length=100),
        required=False,
        help_text="API identifier → the permissions of it the app may ask for.",
    )


class ApiGrantSerializer(StrictTypes, serializers.Serializer[Any]):
    api = serializers.CharField(max_length=255, help_text="The API's identifier.")
    scopes = serializers.ListField(child=serializers.CharField(max_length=100), max_length=100)


class AppChangeReasonSerializer(StrictTypes, serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=1000)


class RotateSerializer(StrictTypes, serializers.Serializer[Any]):
    overlap_seconds = serializers.IntegerField(
        required=False,
        default=24 * 3600,
        min_value=0,
        max_value=30 * 24 * 3600,
        help_text="How long the old secret keeps working (0 ends it now).",
    )


class RotatedSecretSerializer(serializers.Serializer[Any]):
    client_id = serializers.CharField(read_only=True)
    client_secret = serializers.CharField(read_only=True, help_text="Shown once, now.")


class ApiSerializer(serializers.ModelSerializer[Api]):
    class Meta:
        model = Api
        fields = (
            "id",
            "identifier",
            "name",
            "scopes",
            "access_token_lifetime",
            "token_format",
            "signing_alg",
            "system",
            "created_at",
        )
        read_only_fields = fields


# An absolute http(s) URL with a host name: what an API's identifier (its audience) must be.
IDENTIFIER = r"^https?://[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?([/?][^\s#]*)?$"


class ApiCreateSerializer(StrictTypes, serializers.Serializer[Any]):
    identifier = PatternField(IDENTIFIER, max_length=255)
    name = serializers.CharField(max_length=150)
    scopes = serializers.DictField(
        child=serializers.CharField(max_length=200), required=False, default=dict
    )
    access_token_lifetime = serializers.IntegerField(
        required=False, default=600, min_value=60, max_value=24 * 3600
    )
    token_format = serializers.ChoiceField(
        choices=TokenFormat.values, required=False, default=TokenFormat.JWT
    )
    signing_alg = serializers.ChoiceField(
        choices=["RS256", "ES256"], required=False, default="RS256"
    )
