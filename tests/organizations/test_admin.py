"""Support staff look organizations up in the Django admin; they cannot change them there."""

from __future__ import annotations

from django.test import Client

from organizations.models import Invitation
from tests.conftest import force_login_verified
from tests.factories import UserFactory
from tests.organizations.conftest import signed_in


def test_support_finds_an_organization_by_a_members_email_and_sees_no_tokens(world):
    signed_in(world.a_admin).post(
        "/orgs/acme/invitations/", {"email": "pending@else.example", "role": "member"}
    )
    invitation = Invitation.objects.get(email="pending@else.example")
    staff = force_login_verified(Client(), UserFactory(is_staff=True, is_superuser=True))

    found = staff.get("/admin/organizations/organization/", {"q": world.a_member.email})
    assert found.status_code == 200
    assert [o.slug for o in found.context["cl"].result_list] == ["acme"]

    page = staff.get(f"/admin/organizations/organization/{world.a.pk}/change/")
    assert page.status_code == 200
    assert b"pending@else.example" in page.content
    assert b"admin@a.example" in page.content
    assert invitation.token_hash.encode() not in page.content
    assert b'name="name"' not in page.content  # read-only
    assert staff.get(f"/admin/organizations/invitation/{invitation.pk}/change/").status_code == 200
    assert (
        invitation.token_hash.encode()
        not in staff.get(f"/admin/organizations/invitation/{invitation.pk}/change/").content
    )
    # No filtering on the token hash through the URL either.
    prefix = invitation.token_hash[:8]
    assert (
        staff.get(
            "/admin/organizations/invitation/", {"token_hash__startswith": prefix}
        ).status_code
        == 400
    )
    assert staff.post(f"/admin/organizations/organization/{world.a.pk}/delete/").status_code == 403
