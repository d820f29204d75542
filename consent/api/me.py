"""The signed-in person's own consents and account deletion: /api/v1/me/...

The re-acceptance gate lets these through (consent.middleware), so an app can show the terms and
take the acceptance while everything else answers "consent required".
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, renderers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.mfa import stepup
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
    ConsentEventSerializer,
    ConsentOverviewSerializer,
    DecisionSerializer,
    ErasureConfirmSerializer,
    ErasureSerializer,
    resolve_purpose,
)
from consent.erasure import schedule
from consent.models import ConsentEvent, DataSubjectRequest, Method


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


# --- Account deletion ----------------------------------------------------------------------------


class MyErasureView(APIView):
    """The signed-in person's account deletion: where it stands, asking for it (after a recent
    step-up, like the page), and calling it off during the grace period."""

    @extend_schema(
        responses={200: ErasureSerializer, 404: OpenApiResponse(description="None open.")}
    )
    def get(self, request: Request) -> Response:
        found = schedule.open_erasure(request.user)  # type: ignore[arg-type]
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
        existing = schedule.open_erasure(request.user)  # type: ignore[arg-type]
        found = schedule.request_erasure(
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
        found = schedule.cancel_erasure(
            user=request.user,  # type: ignore[arg-type]
            via=DataSubjectRequest.Via.API,
        )
        return Response(ErasureSerializer(found).data)
