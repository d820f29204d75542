"""The management API: JSON in, JSON out, problem responses for every error, OpenAPI docs."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest
from django.core import mail
from django.test import Client

from audit.models import AuditEvent
from organizations.models import Invitation, Membership, Organization, OrganizationPolicy
from tests.organizations.conftest import signed_in

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse


def post(client: Client, path: str, data: object) -> TestResponse:
    body = data if isinstance(data, str) else json.dumps(data)
    return client.post(path, body, content_type="application/json")


def test_create_an_organization_and_invite_through_the_api(user):
    client = signed_in(user)
    response = post(client, "/api/v1/organizations/", {"name": "Quartz", "slug": "quartz"})
    assert response.status_code == 201, response.content
    assert response.json()["role"] == "owner"
    org = Organization.objects.get(slug="quartz")
    assert response.json()["id"] == str(org.public_id)

    mail.outbox.clear()
    response = post(
        client,
        "/api/v1/organizations/quartz/invitations/",
        {"email": "new@x.example", "role": "admin"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["state"] == "open"
    assert "token" not in json.dumps(response.json()).lower()
    assert [m.to for m in mail.outbox] == [["new@x.example"]]

    listed = client.get("/api/v1/organizations/quartz/invitations/").json()
    assert listed["count"] == 1
    invitation_id = listed["results"][0]["id"]
    assert (
        client.delete(f"/api/v1/organizations/quartz/invitations/{invitation_id}/").status_code
        == 204
    )
    assert Invitation.objects.get(pk=invitation_id).revoked_at is not None
    # A revoked invitation cannot be revoked again: it is no longer open.
    again = client.delete(f"/api/v1/organizations/quartz/invitations/{invitation_id}/")
    assert again.status_code == 404


def test_member_roles_through_the_api(world):
    client = signed_in(world.a_owner)
    member = world.membership(world.a, world.a_member)
    response = client.patch(
        f"/api/v1/organizations/acme/members/{member.pk}/",
        json.dumps({"role": "admin"}),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert client.delete(f"/api/v1/organizations/acme/members/{member.pk}/").status_code == 204
    assert not Membership.objects.get(pk=member.pk).is_active


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/api/v1/organizations/", "{not json", 400),
        ("post", "/api/v1/organizations/", {"name": "", "slug": "ok"}, 400),
        ("post", "/api/v1/organizations/", {"name": "X", "slug": "Bad Slug!"}, 400),
        ("post", "/api/v1/organizations/", {"name": "X", "slug": "acme"}, 409),
        ("post", "/api/v1/organizations/acme/invitations/", {"email": "nope"}, 400),
        (
            "post",
            "/api/v1/organizations/acme/invitations/",
            {"email": "a@b.example", "role": "king"},
            400,
        ),
        ("post", "/api/v1/organizations/acme/invitations/", [], 400),
        ("patch", "/api/v1/organizations/acme/policy/", {"allowed_login_methods": []}, 400),
        ("patch", "/api/v1/organizations/acme/policy/", {"session_lifetime_minutes": -5}, 400),
        ("patch", "/api/v1/organizations/acme/policy/", {"default_role": "owner"}, 400),
        ("patch", "/api/v1/organizations/acme/policy/", {"audit_retention_days": 7}, 400),
        ("patch", "/api/v1/organizations/acme/policy/", {"audit_retention_days": "90"}, 400),
        ("put", "/api/v1/organizations/acme/members/", {}, 405),
        ("get", "/api/v1/organizations/acme/members/999999999/", None, 404),
        ("get", "/api/v1/organizations/nope/members/", None, 404),
    ],
)
def test_bad_requests_get_problem_responses(world, method, path, body, status):
    client = signed_in(world.a_owner)
    if body is None:
        response = getattr(client, method)(path)
    else:
        payload = body if isinstance(body, str) else json.dumps(body)
        response = getattr(client, method)(path, payload, content_type="application/json")
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["title"]
    assert "detail" in problem


def test_the_api_needs_a_signed_in_user():
    response = Client().get("/api/v1/organizations/")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Session ")


def test_the_api_refuses_cross_site_writes_without_a_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.a_owner)
    response = post(client, "/api/v1/organizations/", {"name": "Evil", "slug": "evil"})
    assert response.status_code == 403
    assert not Organization.objects.filter(slug="evil").exists()


def test_openapi_schema_and_docs_page_are_served_without_a_cdn(user):
    client = signed_in(user)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    document = json.loads(schema.content)
    assert document["openapi"].startswith("3.")
    assert "/api/v1/organizations/{org_slug}/members/" in document["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    # Every script and stylesheet comes from this server: no absolute URL to anywhere. (Not a
    # search for "cdn": the page's random nonce and CSRF token sometimes spell it.)
    page = docs.content.decode()
    sources = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page)
    assert sources
    assert all(not re.match(r"(?:[a-z]+:)?//", url, re.I) for url in sources)
    for host in ("cdn.jsdelivr", "unpkg.com", "cdnjs"):
        assert host not in page
    assert "/static/drf_spectacular_sidecar/" in page


@pytest.mark.parametrize("body", ["[]", '"x"', "null", "1"])
def test_non_object_json_is_a_problem_not_a_500(world, body):
    client = signed_in(world.a_owner)
    client.raise_request_exception = False
    response = client.patch("/api/v1/organizations/acme/", body, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_audit_retention_is_read_and_set_through_the_policy_api(world):
    client = signed_in(world.a_owner)
    path = "/api/v1/organizations/acme/policy/"
    default = OrganizationPolicy.objects.get(organization=world.a).audit_retention_days
    assert client.get(path).json()["audit_retention_days"] == default
    response = client.patch(path, json.dumps({"audit_retention_days": 90}), "application/json")
    assert response.status_code == 200, response.content
    assert response.json()["audit_retention_days"] == 90
    assert OrganizationPolicy.objects.get(organization=world.a).audit_retention_days == 90
    event = AuditEvent.objects.filter(action="org.policy_updated").latest("occurred_at")
    assert event.data == {"audit_retention_days": 90}
    back = client.patch(path, json.dumps({"audit_retention_days": None}), "application/json")
    assert back.json()["audit_retention_days"] is None  # kept for ever
