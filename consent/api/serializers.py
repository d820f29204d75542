"""The consent API's serializers: what a purpose, a policy version, a decision, an event and an
erasure request look like on the wire, and how a request names a purpose or a version."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers

from config.api_framework import StrictTypes
from consent.erasure.schedule import CONFIRMATION
from consent.models import (
    ConsentEvent,
    DataSubjectRequest,
    Decision,
    Method,
    PolicyVersion,
    Purpose,
)


def resolve_purpose(reference: str, *, organization_id: int | None = None) -> Purpose:
    """A purpose named by its public id, or by key for a Gatehouse-wide one. An organization's
    purpose is only ever named by id: its key may be shared with other organizations. With
    ``organization_id`` (an app bound to one organization), another organization's purpose is
    not found."""
    found = None
    try:
        public_id = uuid.UUID(reference)
    except ValueError:
        pass
    else:
        purposes = Purpose.objects.filter(public_id=public_id)
        if organization_id is not None:
            purposes = purposes.filter(
                Q(organization__isnull=True) | Q(organization_id=organization_id)
            )
        found = purposes.first()
    if found is None:
        found = Purpose.objects.filter(key=reference, organization__isnull=True).first()
    if found is None:
        raise exceptions.NotFound("No such purpose.")
    return found


class VersionSerializer(serializers.ModelSerializer):
    text_url = serializers.SerializerMethodField(
        help_text="The exact text agreed to; its SHA-256 is content_sha256."
    )

    class Meta:
        model = PolicyVersion
        fields: ClassVar[list[str]] = ["id", "label", "published_at", "content_sha256", "text_url"]
        read_only_fields = fields

    def get_text_url(self, version: PolicyVersion) -> str:
        path = reverse("consent:policy-text", args=[version.document_id, version.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class PurposeSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    organization = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        allow_null=True,
        help_text="null for a Gatehouse-wide purpose.",
    )

    class Meta:
        model = Purpose
        fields: ClassVar[list[str]] = [
            "id",
            "key",
            "name",
            "description",
            "required",
            "kind",
            "lawful_basis",
            "organization",
        ]
        read_only_fields = fields


class CataloguePurposeSerializer(PurposeSerializer):
    current_version = serializers.SerializerMethodField()
    binding_version = VersionSerializer(
        read_only=True,
        allow_null=True,
        help_text="The version everyone must have accepted (required purposes).",
    )

    class Meta(PurposeSerializer.Meta):
        fields: ClassVar[list[str]] = [
            *PurposeSerializer.Meta.fields,
            "offered_at_signup",
            "current_version",
            "binding_version",
        ]
        read_only_fields = fields

    @extend_schema_field(VersionSerializer(allow_null=True))
    def get_current_version(self, purpose: Purpose) -> dict[str, Any] | None:
        version = self.context.get("current_versions", {}).get(purpose.document_id)
        return VersionSerializer(version, context=self.context).data if version else None


class ConsentSerializer(serializers.Serializer):
    purpose = PurposeSerializer(read_only=True)
    granted = serializers.BooleanField(
        allow_null=True,
        read_only=True,
        help_text="The current decision; empty if the person never decided. For an opt-out "
        "purpose, granted means the person opts out.",
    )
    version = VersionSerializer(
        allow_null=True, read_only=True, help_text="The version the decision was made on."
    )
    current_version = VersionSerializer(allow_null=True, read_only=True)
    needs_reacceptance = serializers.BooleanField(
        read_only=True,
        help_text="A required purpose whose binding version the person has not accepted.",
    )
    decided_at = serializers.DateTimeField(allow_null=True, read_only=True)


class ConsentOverviewSerializer(serializers.Serializer):
    do_not_sell = serializers.BooleanField(read_only=True)
    consents = ConsentSerializer(many=True, read_only=True)


class ConsentEventSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    purpose = serializers.CharField(source="purpose.key", read_only=True)
    purpose_id = serializers.UUIDField(source="purpose.public_id", read_only=True)
    organization = serializers.SerializerMethodField()
    version = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    details = serializers.DictField(
        read_only=True,
        help_text="OAuth consent (method oauth_consent): the app's client_id and name, the "
        "permissions (scopes) and the organization; empty otherwise. Also in the receipt.",
    )
    receipt_url = serializers.SerializerMethodField(
        help_text="The signed receipt (compact JWS, application/jwt)."
    )

    class Meta:
        model = ConsentEvent
        fields: ClassVar[list[str]] = [
            "id",
            "purpose",
            "purpose_id",
            "organization",
            "decision",
            "method",
            "version",
            "occurred_at",
            "recorded_at",
            "details",
            "receipt_url",
        ]
        read_only_fields = fields

    def get_organization(self, event: ConsentEvent) -> str | None:
        organization = event.purpose.organization
        return organization.slug if organization is not None else None

    def get_receipt_url(self, event: ConsentEvent) -> str:
        # The subject is set in the operator's views; the person's own use their /me/ path.
        subject = self.context.get("subject")
        if subject is None:
            path = reverse("api:my-consent-receipt", args=[event.public_id])
        else:
            path = reverse("api:user-consent-receipt", args=[subject.public_id, event.public_id])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


@extend_schema_field(OpenApiTypes.INT)
class PublishedVersionField(serializers.PrimaryKeyRelatedField):
    """A published policy version by id. One that does not exist is a 404, like any other
    object named in a request that is not there."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(queryset=PolicyVersion.objects.published(), **kwargs)

    def to_internal_value(self, data: Any) -> PolicyVersion:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", data_type=type(data).__name__)
        version = self.get_queryset().filter(pk=data).first()
        if version is None:
            raise exceptions.NotFound("No such published policy version.")
        return version


class DecisionSerializer(StrictTypes, serializers.Serializer):
    """A person's own decision."""

    purpose = serializers.CharField(
        max_length=64, help_text="The purpose's id, or the key of a Gatehouse-wide purpose."
    )
    decision = serializers.ChoiceField(choices=Decision.choices)
    version = PublishedVersionField(
        required=False,
        help_text="The version the person was shown. Refused (409) if a newer one is in force.",
    )


IMPORT_ONLY_FIELDS = ("occurred_at", "ip", "user_agent")


class RecordedDecisionSerializer(DecisionSerializer):
    """A decision recorded by an operator's backend, or imported from elsewhere."""

    method = serializers.ChoiceField(
        choices=[(Method.API, Method.API.label), (Method.IMPORT, Method.IMPORT.label)],
        default=Method.API,
    )
    version = PublishedVersionField(
        required=False,
        help_text="The version consented to. An import may name an older one; otherwise a "
        "version that is no longer current is refused (409).",
    )
    occurred_at = serializers.DateTimeField(
        required=False, help_text="Import only: when the person decided."
    )
    ip = serializers.IPAddressField(required=False, help_text="Import only.")
    user_agent = serializers.CharField(
        required=False, allow_blank=True, max_length=400, help_text="Import only."
    )

    def validate_occurred_at(self, value: datetime) -> datetime:
        # A decision dated in the future would outrank everything the person says until then.
        if value > timezone.now():
            raise serializers.ValidationError("That is in the future.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["method"] != Method.IMPORT:
            given = [name for name in IMPORT_ONLY_FIELDS if name in attrs]
            if given:
                raise serializers.ValidationError(
                    {name: ["Only an import may give this."] for name in given}
                )
        return attrs


class DoNotSellSerializer(serializers.Serializer):
    user_id = serializers.UUIDField(source="user.public_id", read_only=True)
    do_not_sell = serializers.BooleanField(source="granted", read_only=True)
    changed_at = serializers.DateTimeField(source="updated_at", read_only=True)


# --- The person's own account erasure ------------------------------------------------------------


class ErasureSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = DataSubjectRequest
        fields = (
            "id",
            "status",
            "via",
            "requested_at",
            "scheduled_for",
            "cancelled_at",
            "completed_at",
        )
        read_only_fields = fields


class ErasureConfirmSerializer(StrictTypes, serializers.Serializer):
    confirm = serializers.ChoiceField(
        choices=[CONFIRMATION],
        help_text=f'The word "{CONFIRMATION}", as on the page.',
        error_messages={"invalid_choice": f'Send "{CONFIRMATION}" to confirm.'},
    )
