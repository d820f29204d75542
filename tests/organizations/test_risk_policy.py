"""The organization policy field "ask for a second factor on risky sign-ins": set in the
portal and through the policy API, audited like every policy change, refused for members of
another organization."""

from __future__ import annotations

import json

from audit.models import AuditEvent
from tests.organizations.conftest import signed_in


def test_risk_step_up_is_set_in_the_portal_and_audited(world):
    admin = signed_in(world.a_admin)
    page = admin.get("/orgs/acme/policy/").content.decode()
    assert 'name="risk_step_up"' in page

    response = admin.post(
        "/orgs/acme/policy/",
        {"risk_step_up": "on", "allowed_login_methods": ["password"], "default_role": "member"},
    )

    assert response.status_code == 302
    world.a.policy.refresh_from_db()
    assert world.a.policy.risk_step_up is True
    event = AuditEvent.objects.get(action="org.policy_updated")
    assert event.data["risk_step_up"] is True


def test_risk_step_up_is_read_and_set_through_the_policy_api(world):
    client = signed_in(world.a_owner)
    path = "/api/v1/organizations/acme/policy/"
    assert client.get(path).json()["risk_step_up"] is False

    response = client.patch(path, json.dumps({"risk_step_up": True}), "application/json")

    assert response.status_code == 200, response.content
    assert response.json()["risk_step_up"] is True
    world.a.policy.refresh_from_db()
    assert world.a.policy.risk_step_up is True
    bad = client.patch(path, json.dumps({"risk_step_up": "sometimes"}), "application/json")
    assert bad.status_code == 400
    assert bad["Content-Type"] == "application/problem+json"


def test_another_organizations_admin_cannot_set_it(world):
    outsider = signed_in(world.b_owner)
    response = outsider.patch(
        "/api/v1/organizations/acme/policy/", json.dumps({"risk_step_up": True}), "application/json"
    )
    assert response.status_code == 404
    world.a.policy.refresh_from_db()
    assert world.a.policy.risk_step_up is False
