"""The users API's views: /api/v1/users/... (DRF, routed by config/api.py).

Callers are the operator's backends with a token carrying ``users:read`` / ``users:write``, or
support staff in a browser session holding ``accounts.view_user`` / ``accounts.change_user``.
An app bound to one organization sees only that organization's active members, and changes
an account only when the person belongs to no other organization: blocking, signing out or
erasing someone reaches every organization they are in, and one organization's app must not
decide that for another's members.

Every write goes through the accounts, MFA and consent services with the caller as the actor
(an app is recorded as ``client <client_id>``); the services audit it.
"""

from __future__ import annotations

import uuid
from typing import Any

from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.db.models import Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api.serializers import (
    FactorSerializer,
    ProfileValueSerializer,
    RevokedSessionsSerializer,
    ScheduledErasureSerializer,
    ScheduledFactorResetSerializer,
    SessionSerializer,
    SupportReasonSerializer,
    UserCreateSerializer,
    UserSerializer,
    UserUpdateSerializer,
)
from accounts.mfa.policy import DEVICE_MODELS
from accounts.mfa.services.recovery import schedule_mfa_reset
from accounts.models import MFAReset, ProfileAnswer, User, address_is
from config.encryption import decrypt
from config.refusals import Refusal
from consent.erasure.schedule import request_erasure
from consent.models import DataSubjectRequest
from organizations.models import Membership
from provider.api.authentication import bound_organization_id
from provider.api.permissions import SignedInOrToken, StaffPermission

READ = ["users:read"]
WRITE = ["users:write"]


class UsersMixin:
    """Who may call, and which accounts they can see."""

    permission_classes = (SignedInOrToken, StaffPermission)
    required_scopes = {"GET": READ, "POST": WRITE, "PATCH": WRITE, "DELETE": WRITE}
    session_perms = {
        "GET": "accounts.view_user",
        "POST": "accounts.change_user",
        "PATCH": "accounts.change_user",
        "DELETE": "accounts.change_user",
    }
    request: Request
    kwargs: dict[str, Any]

    def visible_users(self) -> QuerySet[User]:
        users = User.objects.prefetch_related(
            Prefetch("emailaddress_set", queryset=EmailAddress.objects.order_by("pk"))
        )
        org_id = bound_organization_id(self.request)
        if org_id is not None:
            members = Membership.objects.active().filter(organization_id=org_id)
            users = users.filter(pk__in=members.values("user_id"))
        return users

    def subject(self) -> User:
        """The person the URL names, if the caller can see them; else 404."""
        cached: User | None = getattr(self, "_subject", None)
        if cached is None:
            cached = self.visible_users().filter(public_id=self.kwargs["user_id"]).first()
            if cached is None:
                raise exceptions.NotFound("No such user.")
            self._subject = cached
        return cached

    def changeable_subject(self) -> User:
        """The person the URL names, when the caller may change their account."""
        user = self.subject()
        org_id = bound_organization_id(self.request)
        if org_id is not None:
            elsewhere = (
                Membership.objects.active().filter(user=user).exclude(organization_id=org_id)
            )
            if elsewhere.exists():
                raise Refusal(
                    "This person also belongs to other organizations: an app bound to one "
                    "organization cannot change their account.",
                    status=403,
                )
        return user

    @property
    def actor(self) -> Any:
        return self.request.user


class SearchSerializer(serializers.Serializer[Any]):
    email = serializers.CharField(required=False, max_length=254)
    email_prefix = serializers.CharField(required=False, max_length=254)
    id = serializers.UUIDField(required=False)


@extend_schema(
    parameters=[
        OpenApiParameter("email", OpenApiTypes.STR, description="The exact email address."),
        OpenApiParameter(
            "email_prefix", OpenApiTypes.STR, description="The start of the email address."
        ),
        OpenApiParameter("id", OpenApiTypes.UUID, description="The person's public id."),
    ]
)
class UserListView(UsersMixin, generics.ListAPIView[User]):
    """Search accounts by email (exact or prefix, any letter case) or public id, oldest first.
    POST creates an account, with or without an email that verifies the address."""

    serializer_class = UserSerializer

    def get_queryset(self) -> QuerySet[User]:
        # A plain dict: DRF reads an empty value in a query string as "not given".
        query = SearchSerializer(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        wanted = query.validated_data
        users = self.visible_users()
        if "email" in wanted:
            users = users.filter(address_is(wanted["email"].strip()))
        if "email_prefix" in wanted:
            users = users.filter(email__startswith=wanted["email_prefix"].strip().lower())
        if "id" in wanted:
            users = users.filter(public_id=wanted["id"])
        return users.order_by("pk")

    @extend_schema(request=UserCreateSerializer, responses={201: UserSerializer})
    def post(self, request: Request) -> Response:
        if bound_organization_id(request) is not None:
            raise Refusal(
                "An app bound to an organization adds people by inviting them: POST "
                "/api/v1/organizations/<slug>/invitations/ (organizations:write).",
                status=403,
            )
        serializer = UserCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = services.create_user(
            actor=self.actor,
            email=data["email"],
            display_name=data.get("display_name", ""),
            email_verified=data["email_verified"],
            send_verification_email=data["send_verification_email"],
        )
        user = self.visible_users().get(pk=user.pk)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class UserDetailView(UsersMixin, APIView):
    """One account. PATCH changes the profile (the display name)."""

    @extend_schema(responses=UserSerializer)
    def get(self, request: Request, user_id: uuid.UUID) -> Response:
        return Response(UserSerializer(self.subject()).data)

    @extend_schema(request=UserUpdateSerializer, responses=UserSerializer)
    def patch(self, request: Request, user_id: uuid.UUID) -> Response:
        serializer = UserUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = self.changeable_subject()
        if "display_name" in serializer.validated_data:
            services.update_profile(
                user=user,
                display_name=serializer.validated_data["display_name"],
                actor=self.actor,
            )
        return Response(UserSerializer(self.visible_users().get(pk=user.pk)).data)


class _BlockingChange(UsersMixin, APIView):
    """Block or unblock, with the reason support gives (``change``: the service)."""

    change: Any

    @extend_schema(request=SupportReasonSerializer, responses=UserSerializer)
    def post(self, request: Request, user_id: uuid.UUID) -> Response:
        serializer = SupportReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = self.change(
            user=self.changeable_subject(),
            actor=self.actor,
            reason=serializer.validated_data["reason"],
        )
        return Response(UserSerializer(self.visible_users().get(pk=user.pk)).data)


class UserBlockView(_BlockingChange):
    """Block the account: the person cannot sign in, and their sessions end now."""

    change = staticmethod(services.block_user)


class UserUnblockView(_BlockingChange):
    """Let a blocked person sign in again."""

    change = staticmethod(services.unblock_user)


class UserSessionListView(UsersMixin, generics.ListAPIView[UserSession]):
    """The person's browser sessions, most recently seen first. DELETE ends them all."""

    serializer_class = SessionSerializer

    def get_queryset(self) -> QuerySet[UserSession]:
        return UserSession.objects.filter(user=self.subject()).order_by("-last_seen_at", "-pk")

    @extend_schema(
        request=None,
        responses={200: RevokedSessionsSerializer},
        operation_id="v1_users_sessions_end_all",
    )
    def delete(self, request: Request, user_id: uuid.UUID) -> Response:
        ended = services.revoke_all_sessions(user=self.changeable_subject(), actor=self.actor)
        return Response(RevokedSessionsSerializer({"sessions_ended": ended}).data)


class UserSessionView(UsersMixin, APIView):
    """End one of the person's sessions."""

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, user_id: uuid.UUID, session_id: int) -> Response:
        ended = services.revoke_session(
            user=self.changeable_subject(), session_id=session_id, actor=self.actor
        )
        if not ended:
            raise exceptions.NotFound("No such session.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserFactorListView(UsersMixin, APIView):
    """The person's second factors (passkeys, authenticator apps, email codes, backup codes):
    what they are called and when they were used, never their secrets."""

    @extend_schema(responses=FactorSerializer(many=True))
    def get(self, request: Request, user_id: uuid.UUID) -> Response:
        user = self.subject()
        factors = [
            {
                "kind": str(kind),
                "id": device.pk,
                "name": device.name,
                "confirmed": device.confirmed,
                "created_at": device.created_at,
                "last_used_at": device.last_used_at,
            }
            for kind, model in DEVICE_MODELS.items()
            for device in model.objects.filter(user=user).order_by("pk")
        ]
        return Response(FactorSerializer(factors, many=True).data)


class UserProfileView(UsersMixin, APIView):
    """The person's answers to the operator's profile fields (progressive profiling), and the
    ones they chose to skip."""

    @extend_schema(responses=ProfileValueSerializer(many=True))
    def get(self, request: Request, user_id: uuid.UUID) -> Response:
        user = self.subject()
        rows = [
            {
                "key": answer.field.key,
                "label": answer.field.label,
                "kind": answer.field.kind,
                "value": decrypt(answer.value_encrypted),
                "skipped": answer.skipped,
                "updated_at": answer.updated_at,
            }
            for answer in ProfileAnswer.objects.filter(user=user)
            .select_related("field")
            .order_by("field__position", "field_id")
        ]
        return Response(ProfileValueSerializer(rows, many=True).data)


class UserFactorResetView(UsersMixin, APIView):
    """Schedule the removal of every second factor (the person lost them all). It takes
    effect after the waiting period (``MFA_RESET_WAIT_HOURS``); the person is told at once on
    every verified address, with a link to cancel it. Asking again returns the pending one."""

    @extend_schema(request=SupportReasonSerializer, responses={202: ScheduledFactorResetSerializer})
    def post(self, request: Request, user_id: uuid.UUID) -> Response:
        serializer = SupportReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reset = schedule_mfa_reset(
            user=self.changeable_subject(),
            actor=self.actor,
            via=MFAReset.Via.API,
            reason=serializer.validated_data["reason"],
        )
        return Response(ScheduledFactorResetSerializer(reset).data, status=status.HTTP_202_ACCEPTED)


class UserErasureView(UsersMixin, APIView):
    """Ask for the account's erasure: it is scheduled after the grace period (the person is
    told and may cancel it until then). Asking again returns the open request."""

    @extend_schema(request=None, responses={202: ScheduledErasureSerializer})
    def post(self, request: Request, user_id: uuid.UUID) -> Response:
        erasure = request_erasure(
            user=self.changeable_subject(),
            via=DataSubjectRequest.Via.API,
            actor=self.actor,
        )
        return Response(ScheduledErasureSerializer(erasure).data, status=status.HTTP_202_ACCEPTED)
