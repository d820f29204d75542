"""An org admin invites someone in a real browser; the invitee accepts from the email, creates
their account on the way, and lands in the organization."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core import mail

from organizations import services
from organizations.models import Membership
from tests.e2e.test_mfa_browser import base_url, browser, new_page, sign_in_with_password  # noqa: F401
from tests.e2e.test_signup_browser import OUTPUT
from tests.factories import UserFactory


@pytest.mark.browser
def test_admin_invites_and_the_invitee_joins_from_the_email(browser, live_server):  # noqa: F811
    url = base_url(live_server)
    admin = UserFactory(email="grace@acme.example")
    org = services.create_organization(actor=admin, name="Acme", slug="acme")

    page = new_page(browser)
    sign_in_with_password(page, url, admin)
    page.goto(f"{url}/orgs/acme/invitations/")
    page.fill("#invite-form input[name=email]", "linus@new.example")
    page.select_option("#invite-form select[name=role]", "member")
    page.click("#send-invitation")
    page.wait_for_load_state("networkidle")
    assert "linus@new.example" in page.content()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "org-invitations.png"), full_page=True)

    [message] = [m for m in mail.outbox if m.to == ["linus@new.example"]]
    found = re.search(r"https?://\S+/invitations/[^/\s]+/", str(message.body))
    assert found is not None, message.body
    link = found.group(0)
    invitee = new_page(browser)
    invitee.goto(link.replace(settings.GATEHOUSE_PUBLIC_URL, url).replace("127.0.0.1", "localhost"))
    assert invitee.input_value("#invitation-email") == "linus@new.example"
    invitee.fill("#invitation-signup-form input[name=password1]", "linus-Kernel-penguin-91")
    invitee.click("#accept-invitation")
    invitee.wait_for_load_state("networkidle")

    assert invitee.url == f"{url}/orgs/acme/"
    assert "Acme" in invitee.content()
    invitee.screenshot(path=str(OUTPUT / "org-joined.png"), full_page=True)
    membership = Membership.objects.get(organization=org, user__email="linus@new.example")
    assert membership.is_active
    assert membership.role == "member"
