"""A sign-in for an organization wears its brand on every step and in every email it sends
(``?org=<slug>``, kept in the session); without one, the operator's brand is the default."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from organizations.models import OperatorBranding, Organization
from organizations.services import update_organization
from organizations.services.branding import update_operator_branding
from tests.conftest import force_login_verified
from tests.factories import UserFactory
from tests.organizations import branding_images as images


@pytest.fixture
def acme(world) -> Organization:
    owner = world.membership(world.a, world.a_owner)
    return update_organization(
        actor=owner,
        org=world.a,
        name="Acme",
        logo_url="https://cdn.acme.example/logo.png",
        brand_colour="#0b5fff",
        display_name="Acme Cloud",
        brand_background="#0f172a",
        brand_text="#f8fafc",
        logo=images.png(),
    )


def logo_url(org: Organization | OperatorBranding) -> str:
    assert org.logo is not None
    return f"/branding/logos/{org.logo.sha256}.png"


def assert_branded(page, org: Organization) -> None:
    text = page.content.decode()
    assert page.status_code == 200, text[:300]
    assert 'id="org-brand"' in text
    assert "Acme Cloud" in text
    assert logo_url(org) in text
    assert "--brand-primary: #0b5fff" in text
    assert "--brand-bg: #0f172a" in text
    assert "https://cdn.acme.example/logo.png" not in text  # no outside image host


def assert_not_branded(page) -> None:
    text = page.content.decode()
    assert 'id="org-brand"' not in text
    assert "Acme Cloud" not in text


@pytest.mark.parametrize(
    "path",
    ["/accounts/login/", "/accounts/signup/", "/accounts/login/code/", "/accounts/password/reset/"],
)
def test_each_sign_in_page_wears_the_brand_with_org(acme, path):
    page = Client().get(f"{path}?org=acme")
    assert_branded(page, acme)
    assert page["Content-Security-Policy"] == "img-src 'self' data:"


def test_every_step_of_one_sign_in_stays_branded(acme):
    browser = Client()
    assert_branded(browser.get("/accounts/login/?org=acme"), acme)
    # The links on the page carry no ?org=; the session does.
    assert_branded(browser.get("/accounts/login/code/"), acme)
    assert_branded(browser.get("/accounts/password/reset/"), acme)
    assert_branded(browser.get("/accounts/signup/"), acme)
    assert_branded(browser.get("/accounts/login/"), acme)
    # An empty ?org= ends it.
    assert_not_branded(browser.get("/accounts/login/?org="))
    assert_not_branded(browser.get("/accounts/login/code/"))


def test_an_unknown_or_absurd_org_shows_the_operators_brand(acme):
    assert_not_branded(Client().get("/accounts/login/?org=nobody"))
    assert Client().get("/accounts/login/?org=" + "x" * 500).status_code == 200
    browser = Client()
    browser.get("/accounts/login/?org=acme")
    assert_not_branded(browser.get("/accounts/login/?org=nobody"))


def test_signed_in_pages_are_not_branded(acme, world):
    browser = Client()
    browser.get("/accounts/login/?org=acme")
    browser.force_login(world.a_member)
    assert_not_branded(browser.get("/account/"))


def html_of(message) -> str:
    [(html, kind)] = message.alternatives
    assert kind == "text/html"
    return html


def test_the_sign_in_code_email_carries_the_orgs_logo_and_colour(acme, world):
    browser = Client()
    browser.get("/accounts/login/?org=acme")
    browser.post("/accounts/login/code/", {"email": world.a_member.email})
    [message] = mail.outbox
    html = html_of(message)
    assert f"http://testserver{logo_url(acme)}" in html
    assert "#0b5fff" in html
    assert "Acme Cloud" in html


def test_the_password_reset_email_is_branded(acme, world):
    browser = Client()
    browser.get("/accounts/password/reset/?org=acme")
    browser.post("/accounts/password/reset/", {"email": world.a_member.email})
    [message] = mail.outbox
    html = html_of(message)
    assert f"http://testserver{logo_url(acme)}" in html
    assert "#0b5fff" in html


def test_the_sign_up_verification_email_is_branded(acme):
    browser = Client()
    browser.get("/accounts/signup/?org=acme")
    response = browser.post(
        "/accounts/signup/", {"email": "new@person.example", "password1": "a long Pass-phrase 42"}
    )
    assert response.status_code == 302, response.content[:500]
    [message] = mail.outbox
    html = html_of(message)
    assert f"http://testserver{logo_url(acme)}" in html
    assert "Acme Cloud" in html


def test_an_email_with_no_org_sign_in_carries_the_operators_brand(acme, world):
    Client().post("/accounts/login/code/", {"email": world.a_member.email})
    [message] = mail.outbox
    html = html_of(message)
    assert "Acme Cloud" not in html
    assert "/branding/logos/" not in html
    assert "#4f46e5" in html  # Gatehouse's own colour, no operator colour set


def test_the_operators_branding_is_the_default(world, settings):
    staff = UserFactory(is_staff=True)
    update_operator_branding(
        actor=staff,
        product_name="Example Identity",
        brand_colour="#7a1f5c",
        brand_background="",
        brand_text="",
        logo=images.jpeg(),
        reason="launch",
    )
    operator = OperatorBranding.objects.get(pk=1)
    page = Client().get("/accounts/login/")
    text = page.content.decode()
    assert "Example Identity" in text
    assert logo_url(operator) in text
    assert "--brand-primary: #7a1f5c" in text
    assert Client().get(logo_url(operator)).status_code == 200
    # An organization's sign-in takes what it leaves empty from the operator.
    Organization.objects.filter(pk=world.a.pk).update(display_name="Acme Cloud")
    org_page = Client().get("/accounts/login/?org=acme").content.decode()
    assert "Acme Cloud" in org_page
    assert "--brand-primary: #7a1f5c" in org_page


def test_the_operator_colour_setting_is_used_without_an_admin_row(settings):
    settings.GATEHOUSE_BRAND_COLOUR = "#0f5132"
    text = Client().get("/accounts/login/").content.decode()
    assert "--brand-primary: #0f5132" in text


def test_staff_edit_the_operators_branding_in_the_admin(world):
    staff = UserFactory(is_staff=True, is_superuser=True)
    admin = force_login_verified(Client(), staff)
    form = admin.get("/admin/organizations/operatorbranding/")
    assert form.status_code in (200, 302)
    response = admin.post(
        "/admin/organizations/operatorbranding/edit/",
        {
            "product_name": "Example Identity",
            "brand_colour": "#ffee00",
            "brand_background": "",
            "brand_text": "",
            "reason": "rebrand",
        },
    )
    assert response.status_code == 400
    assert "too light for white text" in response.content.decode()
    assert not OperatorBranding.objects.exists()
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = admin.post(
        "/admin/organizations/operatorbranding/edit/",
        {
            "product_name": "Example Identity",
            "brand_colour": "#1f3a93",
            "brand_background": "",
            "brand_text": "",
            "logo": SimpleUploadedFile("logo.svg", images.SVG, content_type="image/svg+xml"),
            "reason": "rebrand",
        },
    )
    assert response.status_code == 400
    assert "SVG and other files are not accepted" in response.content.decode()
    response = admin.post(
        "/admin/organizations/operatorbranding/edit/",
        {
            "product_name": "Example Identity",
            "brand_colour": "#1f3a93",
            "brand_background": "",
            "brand_text": "",
            "logo": SimpleUploadedFile("logo.png", images.png(), content_type="image/png"),
            "reason": "rebrand",
        },
    )
    assert response.status_code == 302
    saved = OperatorBranding.objects.get(pk=1)
    assert (saved.product_name, saved.brand_colour) == ("Example Identity", "#1f3a93")
    assert saved.logo is not None
    from audit.models import AuditEvent

    event = AuditEvent.objects.get(action="operator.branding_updated")
    assert event.data["reason"] == "rebrand"
    assert "Example Identity" in Client().get("/accounts/login/").content.decode()


@pytest.mark.parametrize(
    ("value", "problem"),
    [("#ffff00", "too light for white text"), ("yellow", "use a colour like"), ("#1f3a93", None)],
)
def test_the_operator_colour_setting_is_checked_at_start_up(settings, value, problem):
    from organizations.checks import brand_colour_check

    settings.GATEHOUSE_BRAND_COLOUR = value
    errors = brand_colour_check()
    if problem is None:
        assert errors == []
    else:
        [error] = errors
        assert problem in error.msg
        assert error.id == "gatehouse.E_BRAND_COLOUR"
