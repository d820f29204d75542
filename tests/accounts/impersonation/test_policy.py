"""The organization's switch: in the portal's policy form and the policy API, audited."""

from __future__ import annotations

import json

import pytest

from audit.models import AuditEvent
from tests.organizations.conftest import OrgWorld, signed_in


@pytest.fixture
def world() -> OrgWorld:
    return OrgWorld()


def test_admins_switch_approval_on_in_the_portal(world):
    admin = signed_in(world.a_owner)
    assert 'name="impersonation_needs_approval"' in admin.get("/orgs/acme/policy/").content.decode()

    response = admin.post(
        "/orgs/acme/policy/",
        {
            "impersonation_needs_approval": "on",
            "allowed_login_methods": ["password"],
            "default_role": "member",
        },
    )

    assert response.status_code == 302
    world.a.policy.refresh_from_db()
    assert world.a.policy.impersonation_needs_approval is True
    event = AuditEvent.objects.get(action="org.policy_updated")
    assert event.data["impersonation_needs_approval"] is True


def test_the_policy_api_reads_and_sets_it_and_refuses_nonsense(world):
    client = signed_in(world.a_owner)
    path = "/api/v1/organizations/acme/policy/"
    assert client.get(path).json()["impersonation_needs_approval"] is False

    response = client.patch(
        path, json.dumps({"impersonation_needs_approval": True}), "application/json"
    )

    assert response.status_code == 200, response.content
    world.a.policy.refresh_from_db()
    assert world.a.policy.impersonation_needs_approval is True
    bad = client.patch(
        path, json.dumps({"impersonation_needs_approval": "often"}), "application/json"
    )
    assert bad.status_code == 400
    assert bad["Content-Type"] == "application/problem+json"


def test_another_organizations_owner_cannot_set_it(world):
    outsider = signed_in(world.b_owner)
    response = outsider.patch(
        "/api/v1/organizations/acme/policy/",
        json.dumps({"impersonation_needs_approval": True}),
        "application/json",
    )
    assert response.status_code == 404
    world.a.policy.refresh_from_db()
    assert world.a.policy.impersonation_needs_approval is False
