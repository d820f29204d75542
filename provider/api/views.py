"""Operators manage OAuth applications and APIs through the management API:
/api/v1/applications/... and /api/v1/apis/... (routed by config/api.py).

Callers are staff in a browser session (Django's ``provider.*_application`` and
``provider.*_api`` permissions) or a backend whose token holds ``clients:read`` /
``clients:write``. Every write goes through ``provider.services`` with the caller as the actor.

Two limits keep a token from reaching past what it holds. An app bound to one organization
sees and creates only machine-to-machine apps bound to that organization, and no APIs. And a
token never hands a new app a management-API permission it does not hold itself: a backend
with ``clients:write`` but not ``users:write`` cannot mint a client that blocks people.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.refusals import Refusal
from organizations.models import Organization
from provider.api.authentication import bound_organization_id
from provider.api.permissions import SignedInOrToken, StaffPermission, by_token
from provider.api.serializers import (
    ApiCreateSerializer,
    ApiGrantSerializer,
    ApiSerializer,
    AppChangeReasonSerializer,
    ApplicationCreateSerializer,
    ApplicationSerializer,
    CreatedApplicationSerializer,
    RotatedSecretSerializer,
    RotateSerializer,
)
from provider.models import AccessToken, Api, ApiAccess, Application, ApplicationKind
from provider.services.apis import create_api
from provider.services.applications import (
    allow_api,
    create_application,
    rotate_client_secret,
    set_disabled,
)

READ = ["clients:read"]
WRITE = ["clients:write"]


class ClientsMixin:
    permission_classes = (SignedInOrToken, StaffPermission)
    required_scopes = {"GET": READ, "POST": WRITE}
    request: Request
    kwargs: dict[str, Any]

    @property
    def actor(self) -> Any:
        return self.request.user

    def bound(self) -> int | None:
        return bound_organization_id(self.request)


def _grantable(request: Request, api: Api, scopes: list[str], *, bound: int | None) -> None:
    """Refuse a grant the calling token could not make: a bound app grants only management
    API permissions, and no token grants a management API permission it lacks."""
    if not by_token(request):
        return
    if not api.system:
        if bound is not None:
            raise Refusal("An app bound to an organization grants its own API only.", status=403)
        return
    token: AccessToken = request.auth  # type: ignore[assignment]
    held = set(token.scope.split())
    beyond = sorted(set(scopes) - held)
    if beyond:
        raise Refusal(
            f"The token cannot grant permissions it does not hold: {', '.join(beyond)}.",
            status=403,
        )


def _api_named(identifier: str) -> Api:
    api = Api.objects.filter(identifier=identifier).first()
    if api is None:
        raise exceptions.ValidationError({"api": [f"No API is registered as {identifier!r}."]})
    return api


class ApplicationListView(ClientsMixin, generics.ListAPIView[Application]):
    """Registered applications, newest first. POST registers one; a confidential app's secret
    is in that answer, once."""

    serializer_class = ApplicationSerializer
    session_perms = {"GET": "provider.view_application", "POST": "provider.add_application"}

    def get_queryset(self) -> QuerySet[Application]:
        apps = Application.objects.select_related("organization").prefetch_related(
            Prefetch("api_access", queryset=ApiAccess.objects.select_related("api"))
        )
        bound = self.bound()
        if bound is not None:
            apps = apps.filter(organization_id=bound)
        return apps.order_by("-created", "-pk")

    @extend_schema(
        request=ApplicationCreateSerializer, responses={201: CreatedApplicationSerializer}
    )
    def post(self, request: Request) -> Response:
        serializer = ApplicationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        bound = self.bound()
        organization = None
        if "organization" in data:
            organization = Organization.objects.filter(slug=data["organization"]).first()
            if organization is None or (bound is not None and organization.pk != bound):
                raise exceptions.ValidationError({"organization": ["No such organization."]})
        if bound is not None:
            if data["kind"] != ApplicationKind.M2M:
                raise Refusal(
                    "An app bound to an organization registers machine-to-machine apps only.",
                    status=403,
                )
            organization = Organization.objects.get(pk=bound)
        apis = {}
        for identifier, scopes in (data.get("apis") or {}).items():
            api = _api_named(identifier)
            _grantable(request, api, scopes, bound=bound)
            apis[api] = scopes
        registered = create_application(
            actor=self.actor,
            name=data["name"],
            kind=data["kind"],
            redirect_uris=data.get("redirect_uris", []),
            post_logout_redirect_uris=data.get("post_logout_redirect_uris", []),
            allowed_scopes=data.get("allowed_scopes"),
            first_party=data["first_party"],
            organization=organization,
            logo_url=data.get("logo_url", ""),
            description=data.get("description", ""),
            backchannel_logout_uri=data.get("backchannel_logout_uri", ""),
            algorithm=data.get("algorithm", "RS256"),
            apis=apis,
        )
        app = self.get_queryset().get(pk=registered.application.pk)
        answer = CreatedApplicationSerializer(
            app,
            context={"client_secret": registered.client_secret},  # its only copy
        )
        return Response(answer.data, status=status.HTTP_201_CREATED)


class ApplicationMixin(ClientsMixin):
    session_perms = {"GET": "provider.view_application", "POST": "provider.change_application"}

    def application(self) -> Application:
        apps = Application.objects.select_related("organization").prefetch_related(
            Prefetch("api_access", queryset=ApiAccess.objects.select_related("api"))
        )
        bound = self.bound()
        if bound is not None:
            apps = apps.filter(organization_id=bound)
        app = apps.filter(client_id=self.kwargs["client_id"]).first()
        if app is None:
            raise exceptions.NotFound("No such application.")
        return app

    def answer(self, app: Application) -> Response:
        self.kwargs["client_id"] = app.client_id
        return Response(ApplicationSerializer(self.application()).data)


class ApplicationDetailView(ApplicationMixin, APIView):
    """One application (never its secret)."""

    @extend_schema(responses=ApplicationSerializer)
    def get(self, request: Request, client_id: str) -> Response:
        return Response(ApplicationSerializer(self.application()).data)


class ApplicationSecretView(ApplicationMixin, APIView):
    """A new client secret, in this answer only. The old one keeps working for
    ``overlap_seconds`` so the app can be redeployed without an outage."""

    @extend_schema(request=RotateSerializer, responses=RotatedSecretSerializer)
    def post(self, request: Request, client_id: str) -> Response:
        serializer = RotateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        app = self.application()
        secret = rotate_client_secret(
            actor=self.actor,
            application=app,
            overlap=timedelta(seconds=serializer.validated_data["overlap_seconds"]),
        )
        return Response(
            RotatedSecretSerializer({"client_id": app.client_id, "client_secret": secret}).data
        )


class ApplicationDisableView(ApplicationMixin, APIView):
    """Turn the app off: its token and grant requests are refused, and its tokens stop
    working at the management API at once."""

    disabled = True

    @extend_schema(request=AppChangeReasonSerializer, responses=ApplicationSerializer)
    def post(self, request: Request, client_id: str) -> Response:
        serializer = AppChangeReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        app = self.application()
        set_disabled(
            actor=self.actor,
            application=app,
            disabled=self.disabled,
            reason=serializer.validated_data["reason"],
        )
        return self.answer(app)


class ApplicationEnableView(ApplicationDisableView):
    """Turn the app back on."""

    disabled = False


class ApplicationApiView(ApplicationMixin, APIView):
    """Let the app ask for these permissions of an API (replacing what it had of that API)."""

    @extend_schema(request=ApiGrantSerializer, responses=ApplicationSerializer)
    def post(self, request: Request, client_id: str) -> Response:
        serializer = ApiGrantSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        app = self.application()
        api = _api_named(serializer.validated_data["api"])
        scopes = serializer.validated_data["scopes"]
        _grantable(request, api, scopes, bound=self.bound())
        allow_api(actor=self.actor, application=app, api=api, scopes=scopes)
        return self.answer(app)


class ApiListView(ClientsMixin, generics.ListAPIView[Api]):
    """Registered APIs (resource servers), Gatehouse's own management API first. POST
    registers one. An app bound to an organization sees none: APIs are the operator's."""

    serializer_class = ApiSerializer
    session_perms = {"GET": "provider.view_api", "POST": "provider.add_api"}

    def get_queryset(self) -> QuerySet[Api]:
        if self.bound() is not None:
            return Api.objects.none()
        return Api.objects.order_by("-system", "identifier")

    @extend_schema(request=ApiCreateSerializer, responses={201: ApiSerializer})
    def post(self, request: Request) -> Response:
        if self.bound() is not None:
            raise Refusal("APIs are registered by the operator.", status=403)
        serializer = ApiCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        api = create_api(actor=self.actor, **data)
        return Response(ApiSerializer(api).data, status=status.HTTP_201_CREATED)


class ApiDetailView(ClientsMixin, APIView):
    """One API."""

    session_perms = {"GET": "provider.view_api"}

    @extend_schema(responses=ApiSerializer)
    def get(self, request: Request, pk: int) -> Response:
        api = None if self.bound() is not None else Api.objects.filter(pk=pk).first()
        if api is None:
            raise exceptions.NotFound("No such API.")
        return Response(ApiSerializer(api).data)
