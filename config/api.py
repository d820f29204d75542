"""The management API: URL routes under /api/v1/, the OpenAPI schema and docs page, and the
JSON problem responses (RFC 9457) every error is answered with."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.api import views as users_api
from accounts.imports import api as import_api
from audit.chain import views as chain_views
from config.api_framework import PROBLEM_CONTENT_TYPE, problem_body
from config.refusals import Refusal
from consent import api as consent_api
from events import api as events_api
from events import webhooks_api
from organizations import api as org_api
from provider.api import schema as _token_scheme  # noqa: F401  (registers the scheme)
from provider.api import views as clients_api


def problem(status: int, detail: Any, *, errors: Any = None) -> Response:
    extra = {"errors": errors} if errors is not None else {}
    return Response(
        problem_body(status, detail, **extra), status=status, content_type=PROBLEM_CONTENT_TYPE
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Refusal):
        exc.record()
        response = problem(exc.status, exc.message)
        if exc.retry_after is not None:
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, Http404):
        return problem(404, "Not found.")
    if isinstance(exc, exceptions.ValidationError):
        response = drf_exception_handler(exc, context)
        return (
            problem(400, "The request has invalid fields.", errors=exc.detail) if response else None
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = (
        response.data.get("detail", response.data)
        if isinstance(response.data, dict)
        else response.data
    )
    result = problem(response.status_code, str(detail))
    for header in ("Allow", "WWW-Authenticate", "Retry-After"):
        if header in response:
            result[header] = response[header]
    # A token without the permission a call needs: RFC 6750's challenge names it.
    challenge = getattr(exc, "auth_header", None)
    if challenge:
        result["WWW-Authenticate"] = challenge
    return result


_org_list = org_api.OrganizationViewSet.as_view({"get": "list", "post": "create"})
_org_detail = org_api.OrganizationViewSet.as_view({"get": "retrieve", "patch": "partial_update"})
_members = org_api.MemberViewSet.as_view({"get": "list"})
_member = org_api.MemberViewSet.as_view(
    {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
)
_invitations = org_api.InvitationViewSet.as_view({"get": "list", "post": "create"})
_invitation = org_api.InvitationViewSet.as_view({"get": "retrieve", "delete": "destroy"})
_invitation_resend = org_api.InvitationViewSet.as_view({"post": "resend"})
_domains = org_api.DomainViewSet.as_view({"get": "list", "post": "create"})
_domain = org_api.DomainViewSet.as_view({"get": "retrieve", "delete": "destroy"})
_domain_verify = org_api.DomainViewSet.as_view({"post": "verify"})
_policy = org_api.PolicyViewSet.as_view(
    {"get": "retrieve_policy", "patch": "partial_update_policy"}
)


class SchemaView(SpectacularAPIView):
    """The OpenAPI document: public, and readable with any token of the management API too."""

    required_scopes: dict[str, list[str]] = {"GET": []}


class DocsView(SpectacularSwaggerView):
    required_scopes: dict[str, list[str]] = {"GET": []}


ORG = "v1/organizations/<slug:org_slug>"
SUBJECT = "v1/users/<uuid:user_id>"
APP = "v1/applications/<str:client_id>"
HOOK = "v1/webhooks/endpoints/<str:endpoint_id>"

urlpatterns = [
    path("v1/organizations/", _org_list, name="organization-list"),
    path("v1/organizations/<slug:slug>/", _org_detail, name="organization-detail"),
    path(f"{ORG}/members/", _members, name="member-list"),
    path(f"{ORG}/members/<int:pk>/", _member, name="member-detail"),
    path(f"{ORG}/invitations/", _invitations, name="invitation-list"),
    path(f"{ORG}/invitations/<int:pk>/", _invitation, name="invitation-detail"),
    path(f"{ORG}/invitations/<int:pk>/resend/", _invitation_resend, name="invitation-resend"),
    path(f"{ORG}/domains/", _domains, name="domain-list"),
    path(f"{ORG}/domains/<int:pk>/", _domain, name="domain-detail"),
    path(f"{ORG}/domains/<int:pk>/verify/", _domain_verify, name="domain-verify"),
    path(f"{ORG}/policy/", _policy, name="policy"),
    path(f"{ORG}/audit/verify", chain_views.AuditVerifyView.as_view(), name="audit-verify"),
    path(
        f"{ORG}/audit/verify/<uuid:check_id>",
        chain_views.AuditVerificationView.as_view(),
        name="audit-verification",
    ),
    # Consent: the person's own (the re-acceptance gate lets these through), then operators'.
    path("v1/me/consents/", consent_api.MyConsentsView.as_view(), name="my-consents"),
    path("v1/me/erasure/", consent_api.MyErasureView.as_view(), name="my-erasure"),
    path(
        "v1/me/consent-events/",
        consent_api.MyConsentEventsView.as_view(),
        name="my-consent-events",
    ),
    path(
        "v1/me/consent-events/<uuid:event_id>/receipt/",
        consent_api.MyConsentReceiptView.as_view(),
        name="my-consent-receipt",
    ),
    path(
        "v1/consent/purposes/",
        consent_api.PurposeCatalogueView.as_view(),
        name="consent-purposes",
    ),
    path(
        "v1/consent/do-not-sell/",
        consent_api.DoNotSellView.as_view(),
        name="consent-do-not-sell",
    ),
    path(
        f"{SUBJECT}/consents/",
        consent_api.SubjectConsentsView.as_view(),
        name="user-consents",
    ),
    path(
        f"{SUBJECT}/consent-events/",
        consent_api.SubjectConsentEventsView.as_view(),
        name="user-consent-events",
    ),
    path(
        f"{SUBJECT}/consent-events/<uuid:event_id>/receipt/",
        consent_api.SubjectConsentReceiptView.as_view(),
        name="user-consent-receipt",
    ),
    # People's accounts, for the operator's backends and support staff.
    path("v1/users/", users_api.UserListView.as_view(), name="user-list"),
    path("v1/users/import/", import_api.UserImportView.as_view(), name="user-import"),
    path(f"{SUBJECT}/", users_api.UserDetailView.as_view(), name="user-detail"),
    path(f"{SUBJECT}/block/", users_api.UserBlockView.as_view(), name="user-block"),
    path(f"{SUBJECT}/unblock/", users_api.UserUnblockView.as_view(), name="user-unblock"),
    path(f"{SUBJECT}/sessions/", users_api.UserSessionListView.as_view(), name="user-sessions"),
    path(
        f"{SUBJECT}/sessions/<int:session_id>/",
        users_api.UserSessionView.as_view(),
        name="user-session",
    ),
    path(f"{SUBJECT}/factors/", users_api.UserFactorListView.as_view(), name="user-factors"),
    path(f"{SUBJECT}/profile/", users_api.UserProfileView.as_view(), name="user-profile"),
    path(
        f"{SUBJECT}/factors/reset/",
        users_api.UserFactorResetView.as_view(),
        name="user-factors-reset",
    ),
    path(f"{SUBJECT}/erasure/", users_api.UserErasureView.as_view(), name="user-erasure"),
    # OAuth applications and APIs, for operators.
    path("v1/applications/", clients_api.ApplicationListView.as_view(), name="application-list"),
    path(f"{APP}/", clients_api.ApplicationDetailView.as_view(), name="application-detail"),
    path(f"{APP}/secret/", clients_api.ApplicationSecretView.as_view(), name="application-secret"),
    path(
        f"{APP}/disable/",
        clients_api.ApplicationDisableView.as_view(),
        name="application-disable",
    ),
    path(f"{APP}/enable/", clients_api.ApplicationEnableView.as_view(), name="application-enable"),
    path(f"{APP}/apis/", clients_api.ApplicationApiView.as_view(), name="application-apis"),
    path("v1/apis/", clients_api.ApiListView.as_view(), name="api-list"),
    path("v1/apis/<int:pk>/", clients_api.ApiDetailView.as_view(), name="api-detail"),
    # The ordered events feed, for operators and organization-bound apps.
    path("v1/events", events_api.EventFeedView.as_view(), name="events-feed"),
    path("v1/events/types/", webhooks_api.EventTypesView.as_view(), name="event-types"),
    # Webhook endpoints, their secrets and deliveries.
    path(
        "v1/webhooks/endpoints/",
        webhooks_api.EndpointListView.as_view(),
        name="webhook-endpoint-list",
    ),
    path(f"{HOOK}/", webhooks_api.EndpointDetailView.as_view(), name="webhook-endpoint-detail"),
    path(
        f"{HOOK}/rotate-secret/",
        webhooks_api.RotateSecretView.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path(f"{HOOK}/test/", webhooks_api.TestEventView.as_view(), name="webhook-endpoint-test"),
    path(
        f"{HOOK}/deliveries/",
        webhooks_api.DeliveryListView.as_view(),
        name="webhook-delivery-list",
    ),
    path(
        f"{HOOK}/deliveries/<str:delivery_id>/resend/",
        webhooks_api.ResendView.as_view(),
        name="webhook-delivery-resend",
    ),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="api:schema"), name="docs"),
]
app_name = "api"
