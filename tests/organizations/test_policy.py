"""An organization's policy: saving it (and refusing bad values), required second factors,
and the session lifetime, which holds whatever organization a session works in."""

from __future__ import annotations

import time
from unittest import mock

from audit.models import AuditEvent
from organizations import services
from tests.organizations.conftest import signed_in


def test_policy_is_saved_and_bad_values_refused(world):
    admin = signed_in(world.a_admin)
    for bad in (
        {"allowed_login_methods": [], "default_role": "member"},
        {"allowed_login_methods": ["fax"], "default_role": "member"},
        {"allowed_login_methods": ["password"], "default_role": "owner"},
        {
            "allowed_login_methods": ["password"],
            "default_role": "member",
            "session_lifetime_minutes": "1",
        },
    ):
        assert admin.post("/orgs/acme/policy/", bad).status_code == 400
    response = admin.post(
        "/orgs/acme/policy/",
        {
            "require_mfa": "on",
            "allowed_login_methods": ["password", "passkey"],
            "session_lifetime_minutes": "60",
            "default_role": "member",
        },
    )
    assert response.status_code == 302
    world.a.policy.refresh_from_db()
    assert world.a.policy.require_mfa
    assert world.a.policy.allowed_login_methods == ["passkey", "password"]
    event = AuditEvent.objects.get(action="org.policy_updated")
    assert event.organization_id == world.a.pk
    assert event.data["require_mfa"] is True


def test_required_mfa_makes_members_enroll_at_their_next_login(world):
    admin = signed_in(world.a_admin)
    admin.post(
        "/orgs/acme/policy/",
        {"require_mfa": "on", "allowed_login_methods": ["password"], "default_role": "member"},
    )
    member = signed_in(world.a_member)
    response = member.get("/account/")
    assert response.status_code == 302
    assert response["Location"].startswith("/account/security/")
    # Someone outside the organization is not affected.
    assert signed_in(world.b_member).get("/account/").status_code == 200


def test_session_lifetime_applies_to_sessions_in_the_organization(world):
    admin = signed_in(world.a_admin)
    admin.post(
        "/orgs/acme/policy/",
        {
            "allowed_login_methods": ["password"],
            "default_role": "member",
            "session_lifetime_minutes": "30",
        },
    )
    member = signed_in(world.a_member)
    member.post("/orgs/switch/", {"slug": "acme"})
    assert member.get("/orgs/acme/").status_code == 200
    with mock.patch("time.time", return_value=time.time() + 31 * 60):
        response = member.get("/orgs/acme/")
    assert response["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in member.session


def test_the_session_lifetime_holds_whatever_the_active_organization(world):
    owner = world.membership(world.a, world.a_owner)
    services.update_policy(actor=owner, org=world.a, session_lifetime_minutes=30)
    client = signed_in(world.a_member)  # never switches to Acme
    assert client.get("/orgs/acme/members/").status_code == 200
    later = time.time() + 31 * 60
    with mock.patch("time.time", return_value=later):
        assert client.get("/orgs/acme/members/")["Location"].startswith("/accounts/login/")
    api = signed_in(world.a_member)
    with mock.patch("time.time", return_value=later):
        response = api.get("/api/v1/organizations/acme/members/")
    assert response.status_code in (401, 403)
    assert response["Content-Type"] == "application/problem+json"
