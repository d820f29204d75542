"""The gates a person must pass (a second factor their organization requires) answer API calls
with a problem response that says where to go, never with a redirect to an HTML page."""

from __future__ import annotations

import json

from tests.organizations.conftest import signed_in


def test_required_mfa_answers_the_api_with_a_403_problem_and_the_link(world):
    client = signed_in(world.a_owner)
    response = client.patch(
        "/api/v1/organizations/acme/policy/",
        json.dumps({"require_mfa": True}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    # The admin who just turned the policy on has no second factor yet: every call, reads and
    # writes alike, is now a 403 problem with the page to add one, not a 302 to HTML.
    for method, path, body in (
        ("get", "/api/v1/organizations/", None),
        ("patch", "/api/v1/organizations/acme/policy/", '{"require_mfa": false}'),
    ):
        kwargs = {"content_type": "application/json"} if body else {}
        response = getattr(client, method)(path, *([body] if body else []), **kwargs)
        assert response.status_code == 403, response.content
        assert response["Content-Type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 403
        assert "second factor" in problem["detail"]
        assert problem["security_url"].endswith("/account/security/")
    # Pages still send the person to enroll.
    page = client.get("/account/")
    assert page.status_code == 302
    assert page["Location"].startswith("/account/security/")


def test_members_outside_the_policy_are_not_gated(world):
    signed_in(world.a_owner).patch(
        "/api/v1/organizations/acme/policy/",
        json.dumps({"require_mfa": True}),
        content_type="application/json",
    )
    assert signed_in(world.b_member).get("/api/v1/organizations/").status_code == 200
