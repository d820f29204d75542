"""The operator's backends: /api/v1/consent/... and /api/v1/users/<id>/consent...

Users holding ``consent.manage_subject_consents`` read anyone's consents, record decisions on
their behalf, and import consent collected elsewhere (``method="import"``: only an import may say
when, from where, and on which older version). Backends calling with an access token need
``consent:read`` to read and ``consent:write`` to record; an app bound to one organization
sees only that organization's members and purposes.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, permissions, renderers, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from consent import selectors, services
from consent.api.rendering import (
    EVENT_WRITE_RESPONSES,
    NO_FORMAT_PARAMETER,
    RECEIPT_RESPONSES,
    JWTRenderer,
    receipt_response,
    recorded,
)
from consent.api.serializers import (
    CataloguePurposeSerializer,
    ConsentEventSerializer,
    ConsentOverviewSerializer,
    DoNotSellSerializer,
    RecordedDecisionSerializer,
    resolve_purpose,
)
from consent.models import ConsentEvent, ConsentState, Purpose
from organizations.models import Membership
from provider.api.authentication import bound_organization_id
from provider.api.permissions import SignedInOrToken, by_app_token

MANAGE_PERMISSION = "consent.manage_subject_consents"


class ManagesSubjectConsents(permissions.BasePermission):
    """The operator's backends: users holding ``consent.manage_subject_consents``."""

    message = "This needs the permission to manage people's consents."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if by_app_token(request):
            return True  # judged by its permissions (required_scopes) when authenticated
        user = request.user
        return bool(user is not None and user.has_perm(MANAGE_PERMISSION))


class OperatorMixin:
    permission_classes = (SignedInOrToken, ManagesSubjectConsents)
    required_scopes = {"GET": ["consent:read"], "POST": ["consent:write"]}
    kwargs: dict[str, Any]
    request: Request

    _subject: User | None = None

    def people(self) -> Any:
        """Everyone, or an organization-bound app's members."""
        org_id = bound_organization_id(self.request)
        if org_id is None:
            return User.objects.all()
        members = Membership.objects.active().filter(organization_id=org_id)
        return User.objects.filter(pk__in=members.values("user_id"))

    def visible_purposes(self) -> Q:
        """Every purpose, or for an organization-bound app the Gatehouse-wide purposes and its
        organization's own. Apps' access outside any organization (OAuth consent) is the
        person's business, not an organization's; another organization's is that one's."""
        org_id = bound_organization_id(self.request)
        if org_id is None:
            return Q()
        return Q(organization_id=org_id) | (
            Q(organization__isnull=True) & ~Q(kind=Purpose.Kind.OAUTH_APP)
        )

    def subject(self) -> User:
        """The person named in the URL."""
        if self._subject is None:
            self._subject = self.people().filter(public_id=self.kwargs["user_id"]).first()
            if self._subject is None:
                raise exceptions.NotFound("No such user.")
        return self._subject


class PurposeCatalogueView(OperatorMixin, generics.ListAPIView):
    """Every purpose still asked for, Gatehouse-wide and organizations', with the version in
    force and the version everyone must have accepted."""

    serializer_class = CataloguePurposeSerializer

    def get_queryset(self) -> QuerySet[Purpose]:
        return (
            Purpose.objects.filter(self.visible_purposes(), archived=False)
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
        rows = selectors.consent_rows(subject)
        if bound_organization_id(request) is not None:
            visible = Purpose.objects.filter(self.visible_purposes())
            shown = set(visible.values_list("pk", flat=True))
            rows = [row for row in rows if row.purpose.pk in shown]
        overview = {"do_not_sell": selectors.do_not_sell(subject), "consents": rows}
        return Response(ConsentOverviewSerializer(overview, context={"request": request}).data)


class SubjectConsentEventsView(OperatorMixin, generics.ListAPIView):
    """One person's consent decisions, newest first. POST records one for them, or imports one
    collected elsewhere (``method="import"``)."""

    serializer_class = ConsentEventSerializer

    def get_queryset(self) -> QuerySet[ConsentEvent]:
        return (
            ConsentEvent.objects.filter(user=self.subject())
            .filter(purpose__in=Purpose.objects.filter(self.visible_purposes()))
            .select_related("purpose", "purpose__organization")
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
            purpose=resolve_purpose(
                data["purpose"], organization_id=bound_organization_id(request)
            ),
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
        event = (
            ConsentEvent.objects.filter(user=self.subject(), public_id=event_id)
            .filter(purpose__in=Purpose.objects.filter(self.visible_purposes()))
            .first()
        )
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
        if bound_organization_id(self.request) is not None:
            rows = rows.filter(user__in=self.people())
        raw = self.request.query_params.get("changed_since")
        if raw is not None:
            try:
                since = serializers.DateTimeField().run_validation(raw)
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"changed_since": exc.detail}) from None
            rows = rows.filter(updated_at__gte=since)
        return rows.order_by("updated_at", "pk")
