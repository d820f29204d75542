"""The management API for organizations: /api/v1/organizations/... (DRF).

Every nested endpoint resolves the organization from the URL's slug once, with the caller's
active membership in it (``OrgScopedMixin``): not a member, 404. Reads and writes go through
``for_org(org)`` and ``organizations.services``, which check the role and audit refusals.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.api_framework import PatternField, StrictTypes
from organizations import services
from organizations.access import SessionTooOld, resolve_membership
from organizations.models import (
    Domain,
    Invitation,
    LoginMethod,
    Membership,
    Organization,
    OrganizationPolicy,
    Role,
)
from organizations.permissions import Perm

# --- Serializers --------------------------------------------------------------------------------

# What the services accept, said in the schema's terms (the services lower-case and check again).
# A plain https:// address on a named host, or empty: every address it allows, Django's URL check
# takes, and none is longer than the column (500). Bounded in the pattern itself, so that the
# schema states one rule rather than a pattern and a length a client must both satisfy.
LOGO_URL_PATTERN = (
    r"^(?:https://[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)"
    r"{0,3}\.[a-z]{2,63}(?:/[A-Za-z0-9._~%!$&'()*+,;=:@/-]{0,100})?)?$"
)
BRAND_COLOUR_PATTERN = r"^(?:#[0-9a-fA-F]{6})?$"
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
    role = serializers.SerializerMethodField()

    class Meta:
        model = Organization
        fields: ClassVar[list[str]] = [
            "id",
            "name",
            "slug",
            "logo_url",
            "brand_colour",
            "role",
            "created_at",
        ]
        # Logo and colour are set afterwards (PATCH): creating takes a name and a slug.
        read_only_fields: ClassVar[list[str]] = [
            "id",
            "logo_url",
            "brand_colour",
            "created_at",
            "role",
        ]

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
    invited_by = serializers.EmailField(source="invited_by.email", read_only=True, default=None)

    class Meta:
        model = Invitation
        fields: ClassVar[list[str]] = [
            "id",
            "email",
            "role",
            "state",
            "invited_by",
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
            "created_at",
            "expires_at",
            "sent_at",
            "accepted_at",
            "revoked_at",
        ]
        # Uniqueness is the service's question (it answers with a clear message).
        validators: ClassVar[list[Any]] = []


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

    class Meta:
        model = OrganizationPolicy
        fields: ClassVar[list[str]] = [
            "require_mfa",
            "allowed_login_methods",
            "sso_only",
            "session_lifetime_minutes",
            "auto_join_verified_domains",
            "default_role",
            "updated_at",
        ]
        read_only_fields: ClassVar[list[str]] = ["updated_at"]


# --- Views --------------------------------------------------------------------------------------


class OrgScopedMixin:
    """Resolves ``/organizations/<slug>/...`` to the organization and the caller's membership."""

    request: Request
    kwargs: dict[str, Any]
    org: Organization
    membership: Membership
    # The permission every request of the viewset needs (writes may need more: services check).
    perm: Perm = Perm.VIEW

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        try:
            _org, membership = resolve_membership(request._request, self.kwargs["org_slug"])
        except SessionTooOld:
            raise exceptions.NotAuthenticated(
                "This organization ends sessions this old: sign in again."
            ) from None
        self.org, self.membership = membership.organization, membership
        # A refusal is audited by the API's exception handler (config/api.py).
        services.require(membership, self.org, self.perm, f"api {self.__class__.__name__}")


class OrganizationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Organizations the caller is a member of. Creating one makes the caller its owner."""

    serializer_class = OrganizationSerializer
    lookup_field = "slug"

    def get_queryset(self) -> Any:
        return Organization.objects.filter(
            memberships__user=self.request.user,
            memberships__status=Membership.Status.ACTIVE,
        ).order_by("name")

    def get_object(self) -> Organization:
        # Through the one resolver: a non-member's 404 is the same, and audited when the
        # organization exists.
        try:
            org, _membership = resolve_membership(self.request._request, self.kwargs["slug"])
        except SessionTooOld:
            raise exceptions.NotAuthenticated("Sign in again.") from None
        return org

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["roles"] = dict(
            Membership.objects.active()
            .filter(user=self.request.user)
            .values_list("organization_id", "role")
        )
        return context

    def create(self, request: Request) -> Response:
        serializer = OrganizationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        org = services.create_organization(
            actor=request.user,
            name=serializer.validated_data["name"],
            slug=serializer.validated_data["slug"],
        )
        return Response(
            OrganizationSerializer(org, context={"roles": {org.pk: Role.OWNER}}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=OrganizationUpdateSerializer)
    def partial_update(self, request: Request, slug: str | None = None) -> Response:
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["Send a JSON object."]})
        org = self.get_object()
        membership = Membership.objects.active().get(organization=org, user=request.user)
        serializer = OrganizationUpdateSerializer(
            data={
                "name": org.name,
                "logo_url": org.logo_url,
                "brand_colour": org.brand_colour,
                **request.data,
            }
        )
        serializer.is_valid(raise_exception=True)
        org = services.update_organization(
            actor=membership,
            org=org,
            name=serializer.validated_data["name"],
            logo_url=serializer.validated_data.get("logo_url", ""),
            brand_colour=serializer.validated_data.get("brand_colour", ""),
        )
        context = {"roles": {org.pk: membership.role}}
        return Response(OrganizationSerializer(org, context=context).data)


class MemberViewSet(
    OrgScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Members of one organization. Admins change roles (PATCH) and remove members (DELETE)."""

    serializer_class = MemberSerializer

    def get_queryset(self) -> Any:
        rows = Membership.objects.for_org(self.org).active().select_related("user")
        query = self.request.query_params.get("q", "").strip()[:254]
        if query:
            rows = rows.filter(user__email__icontains=query)
        return rows.order_by("user__email")

    @extend_schema(request=RoleSerializer, responses=MemberSerializer)
    def partial_update(self, request: Request, org_slug: str, pk: str) -> Response:
        serializer = RoleSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "role" not in serializer.validated_data:  # nothing to change
            return Response(MemberSerializer(self.get_object()).data)
        member = services.change_role(
            actor=self.membership,
            org=self.org,
            member_id=self.get_object().pk,
            role=serializer.validated_data["role"],
        )
        return Response(MemberSerializer(member).data)

    def destroy(self, request: Request, org_slug: str, pk: str) -> Response:
        services.remove_member(actor=self.membership, org=self.org, member_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationViewSet(
    OrgScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Invitations of one organization (admins). DELETE revokes; POST .../resend/ sends again
    with a fresh link."""

    serializer_class = InvitationSerializer
    perm = Perm.MANAGE_INVITATIONS

    def get_queryset(self) -> Any:
        return (
            Invitation.objects.for_org(self.org)
            .select_related("invited_by")
            .order_by("-created_at")
        )

    def create(self, request: Request, org_slug: str) -> Response:
        serializer = InvitationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = services.invite(
            request=request._request,
            actor=self.membership,
            org=self.org,
            email=serializer.validated_data["email"],
            role=serializer.validated_data.get("role", Role.MEMBER),
        )
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, org_slug: str, pk: str) -> Response:
        services.revoke_invitation(
            actor=self.membership, org=self.org, invitation_id=self.get_object().pk
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=InvitationSerializer)
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, org_slug: str, pk: str) -> Response:
        invitation = services.resend_invitation(
            request=request._request,
            actor=self.membership,
            org=self.org,
            invitation_id=self.get_object().pk,
        )
        return Response(InvitationSerializer(invitation).data)


class DomainViewSet(
    OrgScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Email domains of one organization (admins). POST .../verify/ checks the TXT record."""

    serializer_class = DomainSerializer
    perm = Perm.MANAGE_DOMAINS

    def get_queryset(self) -> Any:
        return Domain.objects.for_org(self.org).order_by("name")

    def create(self, request: Request, org_slug: str) -> Response:
        serializer = DomainSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        domain = services.add_domain(
            actor=self.membership, org=self.org, name=serializer.validated_data["name"]
        )
        return Response(DomainSerializer(domain).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, org_slug: str, pk: str) -> Response:
        services.remove_domain(actor=self.membership, org=self.org, domain_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=DomainSerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, org_slug: str, pk: str) -> Response:
        domain = services.verify_domain(
            actor=self.membership, org=self.org, domain_id=self.get_object().pk
        )
        return Response(DomainSerializer(domain).data)


class PolicyViewSet(OrgScopedMixin, viewsets.GenericViewSet):
    """The organization's policy: anyone in it may read it, admins change it."""

    serializer_class = PolicySerializer

    def get_queryset(self) -> Any:
        return OrganizationPolicy.objects.filter(organization=self.org)

    @extend_schema(responses=PolicySerializer)
    def retrieve_policy(self, request: Request, org_slug: str) -> Response:
        return Response(
            PolicySerializer(OrganizationPolicy.objects.get(organization=self.org)).data
        )

    @extend_schema(request=PolicySerializer, responses=PolicySerializer)
    def partial_update_policy(self, request: Request, org_slug: str) -> Response:
        services.require(self.membership, self.org, Perm.MANAGE_POLICY, "api update policy")
        current = OrganizationPolicy.objects.get(organization=self.org)
        serializer = PolicySerializer(current, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        policy = services.update_policy(
            actor=self.membership, org=self.org, **serializer.validated_data
        )
        return Response(PolicySerializer(policy).data)
