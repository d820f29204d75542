"""An organization's branding in its portal settings: the logo upload (checked, re-encoded,
served by Gatehouse), colours checked for contrast, the display name, the live preview, the
audit trail, and the logo route's headers."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from audit.models import AuditEvent
from organizations.branding import colours
from organizations.models import BrandLogo, Organization
from tests.organizations import branding_images as images
from tests.organizations.conftest import signed_in

FIELDS = {"name": "Acme", "display_name": "", "brand_colour": "", "brand_background": ""}


def save(client: Client, slug: str = "acme", logo: bytes | None = None, name="logo.png", **data):
    form = {**FIELDS, "brand_text": "", **data}
    if logo is not None:
        form["logo"] = SimpleUploadedFile(name, logo, content_type="image/png")
    return client.post(f"/orgs/{slug}/settings/", form)


def served(client: Client, org: Organization):
    org.refresh_from_db()
    assert org.logo is not None
    return client.get(f"/branding/logos/{org.logo.sha256}.png")


@pytest.mark.parametrize("make", [images.png, images.jpeg, images.webp])
def test_a_good_image_is_accepted_and_served_as_a_clean_png(world, make):
    admin = signed_in(world.a_admin)
    upload = make()
    response = save(admin, logo=upload)
    assert response.status_code == 302, response.content[:500]

    logo = served(Client(), world.a)
    assert logo.status_code == 200
    body = logo.content
    assert body.startswith(b"\x89PNG\r\n\x1a\n")
    assert body != upload
    assert images.SECRET not in body  # metadata stripped by the re-encoding
    assert hashlib.sha256(body).hexdigest() == world.a.logo.sha256
    assert Image.open(io.BytesIO(body)).size == (world.a.logo.width, world.a.logo.height)
    event = AuditEvent.objects.filter(action="org.updated", organization_id=world.a.pk).latest("pk")
    assert event.data["logo"] == world.a.logo.sha256


def test_a_polyglot_keeps_only_its_pixels(world):
    admin = signed_in(world.a_admin)
    assert save(admin, logo=images.polyglot()).status_code == 302
    body = served(Client(), world.a).content
    assert images.POLYGLOT_TAIL not in body
    assert b"<script" not in body


def test_a_big_logo_is_scaled_down_to_512_pixels(world):
    admin = signed_in(world.a_admin)
    assert save(admin, logo=images.png(size=(2000, 1000))).status_code == 302
    world.a.refresh_from_db()
    assert (world.a.logo.width, world.a.logo.height) == (512, 256)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (images.SVG, "SVG and other files are not accepted"),
        (images.HTML_AS_PNG, "SVG and other files are not accepted"),
        (images.bomb(), "far too many pixels: keep it under 4096 pixels a side"),
        (images.bomb(4096, 4097), "4096 x 4097 pixels: keep it under 4096 pixels a side"),
        (images.bomb(5000, 10), "5000 x 10 pixels"),
        (images.png()[:60], "damaged or incomplete"),
    ],
    ids=["svg", "html-as-png", "bomb", "just-too-tall", "too-wide", "truncated"],
)
def test_what_is_not_a_safe_image_is_refused_with_a_clear_message(world, upload, message):
    admin = signed_in(world.a_admin)
    response = save(admin, logo=upload, display_name="Acme Cloud")
    assert response.status_code == 400
    assert message in response.content.decode()
    world.a.refresh_from_db()
    assert world.a.logo is None
    assert world.a.display_name == ""  # nothing half-saved
    assert not BrandLogo.objects.exists()


def test_an_oversized_file_is_refused_before_decoding(world):
    admin = signed_in(world.a_admin)
    response = save(admin, logo=images.oversized())
    assert response.status_code == 400
    assert "keep the file under 512 KB" in response.content.decode()
    assert not BrandLogo.objects.exists()


def test_removing_the_logo(world):
    admin = signed_in(world.a_admin)
    save(admin, logo=images.png())
    logo = Organization.objects.get(pk=world.a.pk).logo
    assert logo is not None
    sha = logo.sha256
    assert save(admin, remove_logo="on").status_code == 302
    world.a.refresh_from_db()
    assert world.a.logo is None
    # A logo nobody uses any more is not served.
    assert Client().get(f"/branding/logos/{sha}.png").status_code == 404


def test_the_logo_route_headers(world):
    admin = signed_in(world.a_admin)
    save(admin, logo=images.png())
    response = served(Client(), world.a)
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "max-age=31536000" in response["Cache-Control"]
    assert "immutable" in response["Cache-Control"]
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["ETag"] == f'"{world.a.logo.sha256}"'
    again = Client().get(
        f"/branding/logos/{world.a.logo.sha256}.png", HTTP_IF_NONE_MATCH=response["ETag"]
    )
    assert again.status_code == 304


@pytest.mark.parametrize(
    "path",
    [
        "/branding/logos/" + "0" * 64 + ".png",
        "/branding/logos/nothex.png",
        "/branding/logos/" + "A" * 64 + ".png",
    ],
)
def test_unknown_or_malformed_logo_addresses_are_404(path):
    assert Client().get(path).status_code == 404


def test_a_colour_too_light_for_white_text_is_refused_with_a_suggestion(world):
    admin = signed_in(world.a_admin)
    response = save(admin, brand_colour="#ffcc00")
    assert response.status_code == 400
    text = response.content.decode()
    assert "too light for white text" in text
    assert "4.5:1" in text
    suggestion = text.split("Try a darker shade such as ")[1][:7]
    assert colours.contrast(suggestion, "#ffffff") >= 4.5
    world.a.refresh_from_db()
    assert world.a.brand_colour == ""
    assert save(admin, brand_colour=suggestion).status_code == 302


def test_text_hard_to_read_on_the_background_is_refused(world):
    admin = signed_in(world.a_admin)
    response = save(admin, brand_background="#222222", brand_text="#444444")
    assert response.status_code == 400
    text = response.content.decode()
    assert "hard to read on the background #222222" in text
    suggestion = text.split("Try ")[1][:7]
    assert colours.contrast(suggestion, "#222222") >= 4.5


@pytest.mark.parametrize(
    "name", ["<script>", "Acme\u202eevil", "Acme\x00", "x" * 61, "Acme {{ 7*7 }}"]
)
def test_a_bad_display_name_is_refused(world, name):
    admin = signed_in(world.a_admin)
    response = save(admin, display_name=name)
    assert response.status_code == 400
    world.a.refresh_from_db()
    assert world.a.display_name == ""


def test_branding_is_saved_and_audited(world):
    admin = signed_in(world.a_admin)
    response = save(
        admin,
        display_name="Acme Cloud",
        brand_colour="#0B5FFF",
        brand_background="#0f172a",
        brand_text="#f8fafc",
    )
    assert response.status_code == 302
    world.a.refresh_from_db()
    assert (world.a.display_name, world.a.brand_colour) == ("Acme Cloud", "#0B5FFF")
    event = AuditEvent.objects.filter(action="org.updated", organization_id=world.a.pk).latest("pk")
    assert event.data["display_name"] == "Acme Cloud"
    assert event.data["brand_background"] == "#0f172a"


def test_the_settings_page_draws_a_preview_of_the_sign_in_card(world):
    admin = signed_in(world.a_admin)
    save(admin, display_name="Acme Cloud", brand_colour="#0b5fff", logo=images.png())
    page = admin.get("/orgs/acme/settings/").content.decode()
    assert 'id="brand-preview"' in page
    assert "--brand-primary: #0b5fff" in page
    logo = Organization.objects.get(pk=world.a.pk).logo
    assert logo is not None
    assert f"/branding/logos/{logo.sha256}.png" in page
    assert 'id="brand-preview-name">Acme Cloud<' in page
    assert "gatehouse/branding-preview." in page
    assert "<script>" not in page.split("<body")[1].replace("<script src=", "")


def test_the_same_image_twice_is_stored_once(world):
    signed_in_a = signed_in(world.a_admin)
    signed_in_b = signed_in(world.b_admin)
    logo = images.png()
    save(signed_in_a, logo=logo)
    save(signed_in_b, slug="bolt", logo=logo, name="Bolt")
    assert BrandLogo.objects.count() == 1


def test_a_member_cannot_change_branding(world):
    member = signed_in(world.a_member)
    response = save(member, brand_colour="#123456", logo=images.png())
    assert response.status_code == 403
    world.a.refresh_from_db()
    assert (world.a.brand_colour, world.a.logo) == ("", None)
