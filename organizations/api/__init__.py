"""The management API for organizations: /api/v1/organizations/..., serializers and viewsets
in their own modules. config/api.py routes the viewsets named here."""

from organizations.api.views import (
    DomainViewSet,
    InvitationViewSet,
    MemberViewSet,
    OrganizationViewSet,
    PolicyViewSet,
)

__all__ = [
    "DomainViewSet",
    "InvitationViewSet",
    "MemberViewSet",
    "OrganizationViewSet",
    "PolicyViewSet",
]
