"""The organizations API's viewsets: /api/v1/organizations/... (DRF, routed by config/api.py).

Every nested endpoint resolves the organization from the URL's slug once, with the caller's
active membership in it (``OrgScopedMixin``): not a member, 404. Reads and writes go through
``for_org(org)`` and ``organizations.services``, which check the role and audit refusals.

An app calling with its own access token (no person) is judged by its permissions instead:
``organizations:read`` reads, ``organizations:write`` changes, in the one organization the app
is bound to (any other is a 404, as for a non-member, whatever the method) or, unbound, in
every organization. The services take the app as the actor (``organizations.permissions``):
it may do what an admin may (name and branding, invitations, members' roles and removal,
domains, policy), never grant or take away the owner role (a 403 that says so), and the audit
log records it as ``client <client_id>``. An unbound app may also create organizations: they
start with no member, and ``owner_email`` invites the first owner.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from organizations.access import SessionTooOld, resolve_membership
from organizations.api.serializers import (
    DomainSerializer,
    InvitationSerializer,
    MemberSerializer,
    OrganizationSerializer,
    OrganizationUpdateSerializer,
    PolicySerializer,
    RoleSerializer,
)
from organizations.models import (
    Domain,
    Invitation,
    Membership,
    Organization,
    OrganizationPolicy,
    Role,
)
from organizations.permissions import Actor, Perm
from organizations.services.domains import add_domain, remove_domain, verify_domain
from organizations.services.guards import require
from organizations.services.invitations import invite, resend_invitation, revoke_invitation
from organizations.services.members import change_role, remove_member
from organizations.services.organizations import create_organization, update_organization
from organizations.services.policy import update_policy
from provider.api.authentication import bound_organization_id, client_actor
from provider.api.permissions import by_token

READ = ["organizations:read"]
WRITE = ["organizations:write"]
SCOPES = {"GET": READ, "POST": WRITE, "PATCH": WRITE, "DELETE": WRITE}


def _visible_to_token(request: Request, slug: str) -> Organization | None:
    """The organization of ``slug`` if the token may see it: the one its app (or person's
    token) is bound to, or any for an unbound app."""
    org = Organization.objects.filter(slug=slug).first()
    bound = bound_organization_id(request)
    if org is None or (bound is not None and org.pk != bound):
        return None
    return org


def _resolve_for_token_person(request: Request, slug: str) -> tuple[Organization, Membership]:
    """A person's token: their active membership, within the organization the token is for.
    The session-age policy does not apply (there is no session; the token's lifetime is the
    limit)."""
    org = _visible_to_token(request, slug)
    membership = (
        Membership.objects.active()
        .select_related("organization")
        .filter(organization=org, user_id=request.user.pk or 0)
        .first()
        if org is not None
        else None
    )
    if membership is None:
        raise exceptions.NotFound("No such organization.")
    return membership.organization, membership


class OrgScopedMixin:
    """Resolves ``/organizations/<slug>/...`` to the organization and the caller: their
    membership, or the app calling with its own token."""

    request: Request
    kwargs: dict[str, Any]
    org: Organization
    actor: Actor  # the caller's membership, or the app
    # The permission every request of the viewset needs (writes may need more: services check).
    perm: Perm = Perm.VIEW
    required_scopes = SCOPES

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        slug = self.kwargs["org_slug"]
        app = client_actor(request)
        if app is not None:
            org = _visible_to_token(request, slug)
            if org is None:
                raise exceptions.NotFound("No such organization.")
            self.org, self.actor = org, app
            require(app, org, self.perm, f"api {self.__class__.__name__}")
            return
        if by_token(request):
            _org, membership = _resolve_for_token_person(request, slug)
        else:
            try:
                _org, membership = resolve_membership(request._request, slug)
            except SessionTooOld:
                raise exceptions.NotAuthenticated(
                    "This organization ends sessions this old: sign in again."
                ) from None
        self.org, self.actor = membership.organization, membership
        # A refusal is audited by the API's exception handler (config/api.py).
        require(membership, self.org, self.perm, f"api {self.__class__.__name__}")


class OrganizationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Organizations the caller is a member of (an app: its own organization, or every one
    for an unbound app). A person who creates one is its owner; an unbound app creates it with
    no member and names its first owner in ``owner_email`` (invited)."""

    serializer_class = OrganizationSerializer
    lookup_field = "slug"
    required_scopes = SCOPES

    def get_queryset(self) -> Any:
        bound = bound_organization_id(self.request)
        if client_actor(self.request) is not None:
            orgs = Organization.objects.all()
        else:
            orgs = Organization.objects.filter(
                memberships__user=self.request.user,
                memberships__status=Membership.Status.ACTIVE,
            )
        if bound is not None:
            orgs = orgs.filter(pk=bound)
        return orgs.select_related("logo").defer("logo__data").order_by("name")

    def get_object(self) -> Organization:
        if client_actor(self.request) is not None:
            org = _visible_to_token(self.request, self.kwargs["slug"])
            if org is None:
                raise exceptions.NotFound("No such organization.")
            return org
        if by_token(self.request):
            return _resolve_for_token_person(self.request, self.kwargs["slug"])[0]
        # Through the one resolver: a non-member's 404 is the same, and audited when the
        # organization exists.
        try:
            org, _membership = resolve_membership(self.request._request, self.kwargs["slug"])
        except SessionTooOld:
            raise exceptions.NotAuthenticated("Sign in again.") from None
        return org

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        # An app has no role in any organization.
        context["roles"] = (
            {}
            if client_actor(self.request) is not None
            else dict(
                Membership.objects.active()
                .filter(user=self.request.user)
                .values_list("organization_id", "role")
            )
        )
        return context

    def create(self, request: Request) -> Response:
        serializer = OrganizationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        app = client_actor(request)
        org = create_organization(
            actor=app if app is not None else request.user,
            name=serializer.validated_data["name"],
            slug=serializer.validated_data["slug"],
            owner_email=serializer.validated_data.get("owner_email", ""),
        )
        roles = {} if app is not None else {org.pk: Role.OWNER}
        return Response(
            OrganizationSerializer(org, context={"roles": roles, "request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=OrganizationUpdateSerializer)
    def partial_update(self, request: Request, slug: str | None = None) -> Response:
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["Send a JSON object."]})
        org = self.get_object()
        app = client_actor(request)
        actor: Actor = (
            app
            if app is not None
            else Membership.objects.active().get(organization=org, user=request.user)
        )
        serializer = OrganizationUpdateSerializer(
            data={
                "name": org.name,
                "logo_url": org.logo_url,
                "brand_colour": org.brand_colour,
                **request.data,
            }
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        logo = data.get("logo_image")
        org = update_organization(
            actor=actor,
            org=org,
            name=data["name"],
            logo_url=data.get("logo_url", ""),
            brand_colour=data.get("brand_colour", ""),
            display_name=data.get("display_name"),
            brand_background=data.get("brand_background"),
            brand_text=data.get("brand_text"),
            logo=logo or None,
            remove_logo=logo == b"",
        )
        roles = {org.pk: actor.role} if isinstance(actor, Membership) else {}
        return Response(
            OrganizationSerializer(org, context={"roles": roles, "request": request}).data
        )


class MemberViewSet(
    OrgScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Members of one organization. Admins change roles (PATCH) and remove members (DELETE);
    so may an app with ``organizations:write``, except to or from the owner role (403)."""

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
        member = change_role(
            actor=self.actor,
            org=self.org,
            member_id=self.get_object().pk,
            role=serializer.validated_data["role"],
        )
        return Response(MemberSerializer(member).data)

    def destroy(self, request: Request, org_slug: str, pk: str) -> Response:
        remove_member(actor=self.actor, org=self.org, member_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationViewSet(
    OrgScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Invitations of one organization (admins, or an app with ``organizations:write``). DELETE
    revokes; POST .../resend/ sends again with a fresh link. An app invites no owner while the
    organization has one (403)."""

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
        invitation = invite(
            actor=self.actor,
            org=self.org,
            email=serializer.validated_data["email"],
            role=serializer.validated_data.get("role", Role.MEMBER),
        )
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, org_slug: str, pk: str) -> Response:
        revoke_invitation(actor=self.actor, org=self.org, invitation_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=InvitationSerializer)
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, org_slug: str, pk: str) -> Response:
        invitation = resend_invitation(
            actor=self.actor,
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
    """Email domains of one organization (admins, or an app with ``organizations:write``).
    POST .../verify/ checks the TXT record."""

    serializer_class = DomainSerializer
    perm = Perm.MANAGE_DOMAINS

    def get_queryset(self) -> Any:
        return Domain.objects.for_org(self.org).order_by("name")

    def create(self, request: Request, org_slug: str) -> Response:
        serializer = DomainSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        domain = add_domain(actor=self.actor, org=self.org, name=serializer.validated_data["name"])
        return Response(DomainSerializer(domain).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, org_slug: str, pk: str) -> Response:
        remove_domain(actor=self.actor, org=self.org, domain_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=DomainSerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, org_slug: str, pk: str) -> Response:
        domain = verify_domain(actor=self.actor, org=self.org, domain_id=self.get_object().pk)
        return Response(DomainSerializer(domain).data)


class PolicyViewSet(OrgScopedMixin, viewsets.GenericViewSet):
    """The organization's policy: anyone in it may read it, admins (or an app with
    ``organizations:write``) change it."""

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
        require(self.actor, self.org, Perm.MANAGE_POLICY, "api update policy")
        current = OrganizationPolicy.objects.get(organization=self.org)
        serializer = PolicySerializer(current, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        policy = update_policy(actor=self.actor, org=self.org, **serializer.validated_data)
        return Response(PolicySerializer(policy).data)
