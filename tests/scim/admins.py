"""The world of the SCIM tab's tests: two organizations (Acme "acme", Bolt "bolt"), each with an
owner, an admin and a member (tests.organizations.conftest.OrgWorld) and a verified domain
(a.example, b.example), and helpers to write what a directory would have written."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.utils import timezone

from audit.models import AuditEvent
from organizations.models import Domain, Membership, Organization
from sso.scim.models import Directory, ScimGroup, ScimGroupMember, ScimRequest, ScimUser
from tests.organizations.conftest import OrgWorld


class ScimAdmins(OrgWorld):
    def __init__(self) -> None:
        super().__init__()
        self.a_domain = verified_domain(self.a, "a.example")
        self.b_domain = verified_domain(self.b, "b.example")

    @property
    def a_admin_membership(self) -> Membership:
        return self.membership(self.a, self.a_admin)

    @property
    def b_admin_membership(self) -> Membership:
        return self.membership(self.b, self.b_admin)

    @property
    def a_member_membership(self) -> Membership:
        return self.membership(self.a, self.a_member)


def verified_domain(org: Organization, name: str) -> Domain:
    return Domain.objects.create(
        organization=org,
        name=name,
        verification_token=Domain.new_token(),
        verified_at=timezone.now(),
    )


def scim_user(directory: Directory, user_name: str, **fields: object) -> ScimUser:
    """A record as the protocol layer writes it (no account unless ``user`` is given)."""
    return ScimUser.objects.create(
        directory=directory,
        organization_id=directory.organization_id,
        user_name=user_name,
        user_name_key=user_name.lower(),
        work_email=user_name.lower() if "@" in user_name else "",
        **fields,
    )


def scim_group(directory: Directory, name: str, members: Iterable[ScimUser] = ()) -> ScimGroup:
    group = ScimGroup.objects.create(
        directory=directory,
        organization_id=directory.organization_id,
        display_name=name,
        display_name_key=name.lower(),
    )
    for member in members:
        ScimGroupMember.objects.create(group=group, scim_user=member)
    return group


def scim_request(directory: Directory, **fields: object) -> ScimRequest:
    values: dict[str, object] = {
        "method": "GET",
        "resource_type": "User",
        "status": 200,
        "resource_public_id": uuid.uuid4(),
    }
    values.update(fields)
    return ScimRequest.objects.create(directory=directory, **values)


def events(action: str, org: Organization) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(action=action, organization_id=org.pk).order_by("occurred_at")
    )
