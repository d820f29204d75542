"""Every API error is a problem response with the status HTTP gives it: hostile bodies, unknown
paths, bad page numbers, methods an endpoint lacks, conflicts and cooldowns."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from organizations.models import Domain, Invitation, Membership, Organization
from tests.organizations.conftest import signed_in

PROBLEM = "application/problem+json"
NESTED = '{"a": ' * 3000 + "1" + "}" * 3000

# Every write under /api/v1/ that reads a JSON body, with the org "acme" of the two-org world.
WRITES = [
    ("post", "/api/v1/organizations/"),
    ("patch", "/api/v1/organizations/acme/"),
    ("patch", "/api/v1/organizations/acme/policy/"),
    ("post", "/api/v1/organizations/acme/invitations/"),
    ("post", "/api/v1/organizations/acme/domains/"),
    ("patch", "/api/v1/organizations/acme/members/{member}/"),
    ("post", "/api/v1/me/consent-events/"),
    ("post", "/api/v1/me/erasure/"),
    ("post", "/api/v1/users/{user}/consent-events/"),
]


def _send(client: Client, method: str, path: str, body: str):
    return getattr(client, method)(path, body, content_type="application/json")


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["detail"]
    return body


@pytest.fixture
def operator(world):
    """The owner of acme, also holding the operator's consent permission, so that every write
    endpoint is open to them and only the body decides."""
    from django.contrib.auth.models import Permission

    world.a_owner.user_permissions.add(Permission.objects.get(codename="manage_subject_consents"))
    return world.a_owner


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_deeply_nested_json_is_a_400_on_every_write(world, operator, method, path):
    client = signed_in(operator)
    member = world.membership(world.a, world.a_member)
    path = path.format(member=member.pk, user=world.a_member.public_id)
    before = (Organization.objects.count(), Invitation.objects.count(), Domain.objects.count())
    body = _problem(_send(client, method, path, NESTED), 400)
    assert "nested too deeply" in body["detail"]
    after = (Organization.objects.count(), Invitation.objects.count(), Domain.objects.count())
    assert after == before


def test_json_nested_past_the_depth_limit_but_parseable_is_refused(world, settings):
    client = signed_in(world.a_owner)
    depth = settings.GATEHOUSE_API_MAX_JSON_DEPTH + 1
    body = json.dumps({"name": "X", "slug": "deep", "extra": json.loads("[" * depth + "]" * depth)})
    _problem(_send(client, "post", "/api/v1/organizations/", body), 400)
    assert not Organization.objects.filter(slug="deep").exists()


def test_a_body_over_the_api_limit_is_a_413(world, settings):
    settings.GATEHOUSE_API_MAX_BODY_BYTES = 1024
    client = signed_in(world.a_owner)
    body = json.dumps({"name": "x" * 2000, "slug": "big"})
    _problem(_send(client, "post", "/api/v1/organizations/", body), 413)
    assert not Organization.objects.filter(slug="big").exists()


def test_anonymous_calls_are_401_with_a_challenge():
    for method, path in (("get", "/api/v1/organizations/"), ("post", "/api/v1/me/erasure/")):
        response = getattr(Client(), method)(path)
        _problem(response, 401)
        assert response["WWW-Authenticate"].startswith("Session realm=")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/organizations/acme/members/not-a-number/",
        "/api/v1/organizations/acme/domains/1e3/verify/",
        "/api/v1/users/not-a-uuid/consents/",
        "/api/v1/nothing-here/",
    ],
)
def test_paths_no_route_matches_are_json_404s(world, path):
    _problem(signed_in(world.a_owner).get(path), 404)


def test_pages_outside_the_web_are_still_html_404s(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "99999999999"])
def test_a_bad_page_number_is_a_400_on_the_page_field(world, page):
    body = _problem(signed_in(world.a_owner).get(f"/api/v1/organizations/?page={page}"), 400)
    assert "page" in body["errors"]


def test_a_page_past_the_last_is_a_404_and_page_one_works(world):
    client = signed_in(world.a_owner)
    assert client.get("/api/v1/organizations/?page=1").json()["count"] == 1
    _problem(client.get("/api/v1/organizations/?page=2"), 404)


def test_methods_an_endpoint_lacks_are_405_even_when_anonymous():
    response = Client().generic("TRACE", "/api/v1/organizations/acme/policy/")
    _problem(response, 405)
    assert set(response["Allow"].split(", ")) >= {"GET", "PATCH"}
    assert "DELETE" not in response["Allow"]


def test_the_policy_is_one_object_not_a_list(world):
    body = signed_in(world.a_member).get("/api/v1/organizations/acme/policy/").json()
    assert "results" not in body
    assert body["allowed_login_methods"]


def test_patching_a_member_with_nothing_changes_nothing(world):
    member = world.membership(world.a, world.a_member)
    response = signed_in(world.a_owner).patch(
        f"/api/v1/organizations/acme/members/{member.pk}/", "{}", content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "member"
    assert Membership.objects.get(pk=member.pk).role == "member"


def test_duplicates_are_409_everywhere(world):
    client = signed_in(world.a_owner)
    _problem(_send(client, "post", "/api/v1/organizations/", '{"name": "A", "slug": "acme"}'), 409)
    invite = json.dumps({"email": "new@x.example"})
    assert (
        _send(client, "post", "/api/v1/organizations/acme/invitations/", invite).status_code == 201
    )
    _problem(_send(client, "post", "/api/v1/organizations/acme/invitations/", invite), 409)
    member = json.dumps({"email": world.a_member.email})
    _problem(_send(client, "post", "/api/v1/organizations/acme/invitations/", member), 409)
    domain = json.dumps({"name": "acme.example"})
    assert _send(client, "post", "/api/v1/organizations/acme/domains/", domain).status_code == 201
    _problem(_send(client, "post", "/api/v1/organizations/acme/domains/", domain), 409)


def test_a_reserved_organization_address_is_a_409(world):
    from organizations.models import RESERVED_SLUGS

    slug = sorted(RESERVED_SLUGS)[0]
    body = json.dumps({"name": "Mine", "slug": slug})
    _problem(_send(signed_in(world.a_owner), "post", "/api/v1/organizations/", body), 409)
    assert not Organization.objects.filter(slug=slug).exists()


def test_resending_too_soon_is_a_429_with_retry_after(world):
    client = signed_in(world.a_owner)
    created = _send(
        client, "post", "/api/v1/organizations/acme/invitations/", '{"email": "n@x.example"}'
    ).json()
    response = client.post(f"/api/v1/organizations/acme/invitations/{created['id']}/resend/")
    _problem(response, 429)
    assert 1 <= int(response["Retry-After"]) <= 60


def test_the_served_schema_has_unique_readable_operation_ids(world):
    schema = signed_in(world.a_owner).get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    document = json.loads(schema.content)
    ids = [
        operation["operationId"]
        for item in document["paths"].values()
        for method, operation in item.items()
        if method != "parameters"
    ]
    assert len(ids) == len(set(ids))
    assert not [i for i in ids if i.rsplit("_", 1)[-1].isdigit()]
    description = document["info"]["description"]
    assert "consent" in description
    assert "problem" in description


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 0}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "A", "logo_url": "http://x.example/l.png"}, "logo_url"),
        ({"name": "A", "brand_colour": "red"}, "brand_colour"),
        ({"name": "A", "brand_colour": " #4f46e5"}, "brand_colour"),
    ],
)
def test_organization_settings_are_refused_by_type_and_pattern(world, body, field):
    response = _send(
        signed_in(world.a_owner), "patch", "/api/v1/organizations/acme/", json.dumps(body)
    )
    assert field in _problem(response, 400)["errors"]
    assert Organization.objects.get(slug="acme").name == "Acme"


def test_organization_settings_take_https_logos_and_colours_and_empty_clears(world):
    client = signed_in(world.a_owner)
    body = {
        "name": "Acme",
        "logo_url": "https://cdn.acme.example/logo.png",
        "brand_colour": "#4F46E5",
    }
    response = _send(client, "patch", "/api/v1/organizations/acme/", json.dumps(body))
    assert response.status_code == 200, response.content
    assert response.json()["brand_colour"] == "#4F46E5"
    cleared = _send(
        client, "patch", "/api/v1/organizations/acme/", '{"logo_url": "", "brand_colour": ""}'
    )
    assert cleared.status_code == 200
    assert cleared.json()["logo_url"] == ""


def test_booleans_and_numbers_must_be_json_booleans_and_numbers(world):
    client = signed_in(world.a_owner)
    for body in ({"require_mfa": "yes"}, {"session_lifetime_minutes": "60"}, {"sso_only": 1}):
        response = _send(client, "patch", "/api/v1/organizations/acme/policy/", json.dumps(body))
        assert list(_problem(response, 400)["errors"]) == list(body)
    world.a.policy.refresh_from_db()
    assert not world.a.policy.require_mfa
    assert not world.a.policy.sso_only
