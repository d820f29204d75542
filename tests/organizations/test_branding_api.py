"""Branding through the management API (PATCH /api/v1/organizations/<slug>/): the same checks
as the portal (contrast, display name, the logo's decoding), answered as problem+json."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from organizations.models import BrandLogo, Organization
from tests.organizations import branding_images as images
from tests.organizations.conftest import signed_in


def patch(client: Client, slug: str, body: dict):
    return client.patch(
        f"/api/v1/organizations/{slug}/", json.dumps(body), content_type="application/json"
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_branding_is_read_and_written_through_the_api(world):
    client = signed_in(world.a_admin)
    response = patch(
        client,
        "acme",
        {
            "display_name": "Acme Cloud",
            "brand_colour": "#0b5fff",
            "brand_background": "#0f172a",
            "brand_text": "#f8fafc",
            "logo_image": b64(images.png()),
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    org = Organization.objects.get(pk=world.a.pk)
    assert org.logo is not None
    assert body["logo"] == f"http://testserver/branding/logos/{org.logo.sha256}.png"
    assert "logo_image" not in body
    assert (body["display_name"], body["brand_background"], body["brand_text"]) == (
        "Acme Cloud",
        "#0f172a",
        "#f8fafc",
    )
    read = client.get("/api/v1/organizations/acme/").json()
    assert read["logo"] == body["logo"]
    # A PATCH of other fields keeps the branding; an empty logo_image removes the logo.
    assert patch(client, "acme", {"name": "Acme Inc"}).json()["display_name"] == "Acme Cloud"
    assert patch(client, "acme", {"logo_image": ""}).json()["logo"] is None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"brand_colour": "#ffcc00"}, "too light for white text"),
        ({"brand_background": "#ffffff", "brand_text": "#eeeeee"}, "hard to read"),
        ({"display_name": "<b>Acme</b>"}, "display name may use"),
        ({"logo_image": b64(images.SVG)}, "SVG and other files are not accepted"),
        ({"logo_image": b64(images.HTML_AS_PNG)}, "SVG and other files are not accepted"),
        ({"logo_image": b64(images.bomb())}, "keep it under 4096 pixels a side"),
        ({"logo_image": "not base64!"}, "base64"),
        ({"brand_text": "white"}, "brand_text"),
    ],
)
def test_bad_branding_is_a_problem_response_and_changes_nothing(world, body, words):
    client = signed_in(world.a_admin)
    response = patch(client, "acme", body)
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert words in response.content.decode()
    org = Organization.objects.get(pk=world.a.pk)
    assert (org.display_name, org.brand_colour, org.logo_id) == ("", "", None)
    assert not BrandLogo.objects.exists()


def test_an_admin_of_another_org_can_neither_read_nor_change_its_branding(world):
    client = signed_in(world.a_admin)
    assert client.get("/api/v1/organizations/bolt/").status_code == 404
    response = patch(client, "bolt", {"display_name": "Hijacked", "logo_image": b64(images.png())})
    assert response.status_code == 404
    org = Organization.objects.get(pk=world.b.pk)
    assert (org.display_name, org.logo_id) == ("", None)
    assert not BrandLogo.objects.exists()


def test_a_logo_past_the_api_body_limit_is_a_413_problem(world):
    """The API takes bodies up to API_MAX_BODY_BYTES (64 KB by default): larger logos go
    through the portal, which takes up to 512 KB."""
    client = signed_in(world.a_admin)
    response = patch(client, "acme", {"logo_image": b64(images.oversized())})
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/problem+json")
    assert not BrandLogo.objects.exists()
