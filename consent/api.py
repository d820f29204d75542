"""The consent API: /api/v1/me/consent... for the signed-in person, and operator endpoints
(/api/v1/consent/..., /api/v1/users/<id>/consent...) for the operator's own backends.

Two audiences, one write path. A person reads where they stand and gives or withdraws their own
consents (``method="api"``); the re-acceptance gate lets these two paths through, so an app can
show the terms and take the acceptance while everything else answers "consent required". An
operator's backend, holding ``consent.manage_subject_consents``, reads anyone's consents, records
decisions on their behalf, and imports consent collected elsewhere (``method="import"``: only
an import may say when, from where, and on which older version). Every decision goes through
``consent.services.record_consent``; its refusals reach the client as problem responses
(config/api.py). Events never show the IP address or user agent they hold: that evidence stays
in the Django admin.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, generics, permissions, renderers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.mfa import stepup
from accounts.models import User
from config.api_framework import StrictTypes
from consent import erasure, selectors, services
from consent.models import (
    ConsentEvent,
    ConsentState,
    DataSubjectRequest,
    Decision,
    Method,
    PolicyVersion,
    Purpose,
)

MANAGE_PERMISSION = "consent.manage_subject_consents"


# --- Reading helpers -----------------------------------------------------------------------------


def resolve_purpose(reference: str) -> Purpose:
    """A purpose named by its public id, or by key for a Gatehouse-wide one. An organization's
    purpose is only ever named by id: its key may be shared with other organizations."""
    found = None
    try:
        public_id = uuid.UUID(reference)
    except ValueError:
        pass
    else:
        found = Purpose.objects.filter(public_id=public_id).first()
    if found is None:
        found = Purpose.objects.filter(key=reference, organization__isnull=True).first()
    if found is None:
        raise exceptions.NotFound("No such purpose.")
    return found


# --- Serializers ---------------------------------------------------------------------------------


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


# --- Permissions and rendering -------------------------------------------------------------------


class ManagesSubjectConsents(permissions.BasePermission):
    """The operator's backends: users holding ``consent.manage_subject_consents``."""

    message = "This needs the permission to manage people's consents."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user is not None and user.has_perm(MANAGE_PERMISSION))


class JWTRenderer(renderers.BaseRenderer):
    """Lets a client ask for ``application/jwt``. Receipts themselves are sent as they were
    issued; anything else through this renderer (a problem response) is JSON."""

    media_type = "application/jwt"
    format = "jwt"
    charset = None

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, str):
            return data.encode("ascii")
        return renderers.JSONRenderer().render(data)


def receipt_response(event: ConsentEvent) -> HttpResponse:
    return HttpResponse(event.receipt, content_type="application/jwt")


def recorded(request: Request, event: ConsentEvent, created: bool, subject: Any) -> Response:
    context = {"request": request, "subject": subject}
    return Response(
        ConsentEventSerializer(event, context=context).data,
        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )


RECEIPT_RESPONSES = {
    (200, "application/jwt"): OpenApiResponse(
        OpenApiTypes.STR, description="The receipt as issued (compact JWS, ES256)."
    ),
    404: OpenApiResponse(description="No such event of this person."),
}
# The receipt views accept two renderers only so that either Accept header is answered; there is
# no ?format= choice to document.
NO_FORMAT_PARAMETER = [OpenApiParameter("format", exclude=True)]
EVENT_WRITE_RESPONSES = {
    201: ConsentEventSerializer,
    200: OpenApiResponse(ConsentEventSerializer, description="Nothing changed: the event on file."),
    404: OpenApiResponse(description="No such purpose, or it does not apply to the person."),
    409: OpenApiResponse(
        description="Refused: a required purpose cannot be withdrawn, the version is out of "
        "date, or the purpose is archived."
    ),
}


# --- The person's own consents -------------------------------------------------------------------


class MyConsentsView(APIView):
    """Where the signed-in person stands on every purpose that applies to them."""

    @extend_schema(responses=ConsentOverviewSerializer)
    def get(self, request: Request) -> Response:
        overview = {
            "do_not_sell": selectors.do_not_sell(request.user),
            "consents": selectors.consent_rows(request.user),
        }
        return Response(ConsentOverviewSerializer(overview, context={"request": request}).data)


class MyConsentEventsView(generics.ListAPIView):
    """The signed-in person's consent decisions, newest first; POST gives or withdraws one."""

    serializer_class = ConsentEventSerializer

    def get_queryset(self) -> QuerySet[ConsentEvent]:
        return ConsentEvent.objects.filter(user=self.request.user).select_related(
            "purpose", "purpose__organization"
        )

    @extend_schema(
        request=DecisionSerializer,
        responses=EVENT_WRITE_RESPONSES,
    )
    def post(self, request: Request) -> Response:
        serializer = DecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        event, created = services.record_consent(
            user=request.user,  # type: ignore[arg-type]
            purpose=resolve_purpose(data["purpose"]),
            decision=data["decision"],
            method=Method.API,
            version=data.get("version"),
        )
        return recorded(request, event, created, subject=None)


class MyConsentReceiptView(APIView):
    """One of the person's receipts, as issued."""

    renderer_classes = (JWTRenderer, renderers.JSONRenderer)

    @extend_schema(responses=RECEIPT_RESPONSES, parameters=NO_FORMAT_PARAMETER)
    def get(self, request: Request, event_id: uuid.UUID) -> HttpResponse:
        event = ConsentEvent.objects.filter(user=request.user, public_id=event_id).first()
        if event is None:
            raise exceptions.NotFound("No such receipt.")
        return receipt_response(event)


# --- Operator backends ---------------------------------------------------------------------------


class OperatorMixin:
    permission_classes = (permissions.IsAuthenticated, ManagesSubjectConsents)
    kwargs: dict[str, Any]

    _subject: User | None = None

    def subject(self) -> User:
        """The person named in the URL."""
        if self._subject is None:
            self._subject = User.objects.filter(public_id=self.kwargs["user_id"]).first()
            if self._subject is None:
                raise exceptions.NotFound("No such user.")
        return self._subject


class PurposeCatalogueView(OperatorMixin, generics.ListAPIView):
    """Every purpose still asked for, Gatehouse-wide and organizations', with the version in
    force and the version everyone must have accepted."""

    serializer_class = CataloguePurposeSerializer

    def get_queryset(self) -> QuerySet[Purpose]:
        return (
            Purpose.objects.filter(archived=False)
            .select_related("organization", "binding_version")
            .order_by("organization_id", "-required", "name", "pk")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset()) or []
        context = {
            **self.get_serializer_context(),
            "current_versions": selectors.current_versions(page),
        }
        data = CataloguePurposeSerializer(page, many=True, context=context).data
        return self.get_paginated_response(data)


class SubjectConsentsView(OperatorMixin, APIView):
    """Where one person stands: the same answer they get at /api/v1/me/consents/."""

    @extend_schema(responses=ConsentOverviewSerializer)
    def get(self, request: Request, user_id: uuid.UUID) -> Response:
        subject = self.subject()
        overview = {
            "do_not_sell": selectors.do_not_sell(subject),
            "consents": selectors.consent_rows(subject),
        }
        return Response(ConsentOverviewSerializer(overview, context={"request": request}).data)


class SubjectConsentEventsView(OperatorMixin, generics.ListAPIView):
    """One person's consent decisions, newest first. POST records one for them, or imports one
    collected elsewhere (``method="import"``)."""

    serializer_class = ConsentEventSerializer

    def get_queryset(self) -> QuerySet[ConsentEvent]:
        return ConsentEvent.objects.filter(user=self.subject()).select_related(
            "purpose", "purpose__organization"
        )

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "subject": self.subject()}

    @extend_schema(
        request=RecordedDecisionSerializer,
        responses=EVENT_WRITE_RESPONSES,
    )
    def post(self, request: Request, user_id: uuid.UUID) -> Response:
        subject = self.subject()
        serializer = RecordedDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        event, created = services.record_consent(
            user=subject,
            purpose=resolve_purpose(data["purpose"]),
            decision=data["decision"],
            method=data["method"],
            actor=request.user,
            version=data.get("version"),
            occurred_at=data.get("occurred_at"),
            ip=data.get("ip"),
            user_agent=data.get("user_agent"),
        )
        return recorded(request, event, created, subject=subject)


class SubjectConsentReceiptView(OperatorMixin, APIView):
    """One of a person's receipts, as issued."""

    renderer_classes = (JWTRenderer, renderers.JSONRenderer)

    @extend_schema(responses=RECEIPT_RESPONSES, parameters=NO_FORMAT_PARAMETER)
    def get(self, request: Request, user_id: uuid.UUID, event_id: uuid.UUID) -> HttpResponse:
        event = ConsentEvent.objects.filter(user=self.subject(), public_id=event_id).first()
        if event is None:
            raise exceptions.NotFound("No such receipt.")
        return receipt_response(event)


@extend_schema(
    parameters=[
        OpenApiParameter(
            "changed_since",
            OpenApiTypes.DATETIME,
            description="Only people whose choice was recorded at or after this time (ISO 8601).",
        )
    ]
)
class DoNotSellView(OperatorMixin, generics.ListAPIView):
    """Who has said "do not sell or share my personal information", for syncing to the systems
    that sell or share: everyone whose choice was recorded since ``changed_since``, oldest
    change first. ``changed_at`` is when Gatehouse recorded it; poll again from a little before
    the last ``changed_at`` seen, as a change still being written may carry an earlier time."""

    serializer_class = DoNotSellSerializer

    def get_queryset(self) -> QuerySet[ConsentState]:
        rows = ConsentState.objects.filter(
            purpose__key="do_not_sell", purpose__organization__isnull=True
        ).select_related("user")
        raw = self.request.query_params.get("changed_since")
        if raw is not None:
            try:
                since = serializers.DateTimeField().run_validation(raw)
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"changed_since": exc.detail}) from None
            rows = rows.filter(updated_at__gte=since)
        return rows.order_by("updated_at", "pk")


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
        choices=[erasure.CONFIRMATION],
        help_text=f'The word "{erasure.CONFIRMATION}", as on the page.',
        error_messages={"invalid_choice": f'Send "{erasure.CONFIRMATION}" to confirm.'},
    )


class MyErasureView(APIView):
    """The signed-in person's account deletion: where it stands, asking for it (after a recent
    step-up, like the page), and calling it off during the grace period."""

    @extend_schema(
        responses={200: ErasureSerializer, 404: OpenApiResponse(description="None open.")}
    )
    def get(self, request: Request) -> Response:
        found = erasure.open_erasure(request.user)  # type: ignore[arg-type]
        if found is None:
            raise exceptions.NotFound("No account deletion is scheduled.")
        return Response(ErasureSerializer(found).data)

    @extend_schema(
        request=ErasureConfirmSerializer,
        responses={
            202: ErasureSerializer,
            200: OpenApiResponse(ErasureSerializer, description="Already scheduled."),
            403: OpenApiResponse(description="Step up first (a recent sign-in or factor)."),
            409: OpenApiResponse(description="The only owner of an organization with members."),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = ErasureConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not stepup.is_satisfied(request._request):
            raise exceptions.PermissionDenied(
                "Confirm it is you first: step up at "
                f"{reverse('mfa:stepup')}, then send this request again."
            )
        existing = erasure.open_erasure(request.user)  # type: ignore[arg-type]
        found = erasure.request_erasure(
            user=request.user,  # type: ignore[arg-type]
            via=DataSubjectRequest.Via.API,
        )
        return Response(
            ErasureSerializer(found).data,
            status=status.HTTP_200_OK if existing is not None else status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        request=None,
        responses={
            200: ErasureSerializer,
            404: OpenApiResponse(description="None to cancel."),
            409: OpenApiResponse(description="Already under way."),
        },
    )
    def delete(self, request: Request) -> Response:
        found = erasure.cancel_erasure(
            user=request.user,  # type: ignore[arg-type]
            via=DataSubjectRequest.Via.API,
        )
        return Response(ErasureSerializer(found).data)
