"""Support staff who really signed in (password, then an authenticator app), and the steps of
an impersonation through HTTP."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.impersonation.models import Impersonation
from accounts.models import User
from organizations import services as org_services
from organizations.models import Membership, Organization
from tests.accounts.mfa_helpers import enroll_totp, password_step, totp_now
from tests.conftest import path_of
from tests.factories import UserFactory

REASON = "Ticket 4711: the invoice page shows nothing"


def make_staff(email: str = "support@gatehouse.test", *, allowed: bool = True) -> User:
    staff = UserFactory(email=email, is_staff=True, display_name="Sam Support")
    if allowed:
        staff.user_permissions.add(Permission.objects.get(codename="impersonate_user"))
    enroll_totp(staff)
    return staff


def staff_browser(staff: User) -> Client:
    """A browser where ``staff`` signed in with the password and passed the authenticator
    app's code: the admin opens."""
    client = Client(HTTP_USER_AGENT="pytest-browser/1.0")
    assert password_step(client, staff, next_url="/admin/")["Location"] == "/accounts/2fa/"
    device = TOTPDevice.objects.get(user=staff)
    response = client.post("/accounts/2fa/", {"kind": "totp", "code": totp_now(device)})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    return client


def start_url(person: User) -> str:
    return f"/admin/impersonate/user/{person.pk}/"


def ask(client: Client, person: User, *, reason: str = REASON, minutes: int = 15) -> Any:
    return client.post(start_url(person), {"reason": reason, "minutes": minutes})


def begin(client: Client, person: User, **kwargs: Any) -> Impersonation:
    """Ask and start an impersonation that needs no approval; the browser is now the
    person's."""
    response = ask(client, person, **kwargs)
    assert response.status_code == 302, response.content[:800]
    assert response["Location"] == "/account/"
    return Impersonation.objects.get(person=person, status="active")


def signed_in_as(client: Client) -> str:
    return str(client.session.get("_auth_user_id", ""))


def organization_asking_approval(
    owner: User, *, name: str = "Acme", slug: str = "acme"
) -> Organization:
    org = org_services.create_organization(actor=owner, name=name, slug=slug)
    org.policy.impersonation_needs_approval = True
    org.policy.save(update_fields=["impersonation_needs_approval"])
    return org


def add_member(org: Organization, user: User, role: str = "member") -> Membership:
    return Membership.objects.create(organization=org, user=user, role=role, source="admin")


def approval_link_for(address: str) -> str:
    """The approval link emailed to ``address`` (the path, to open in a test client)."""
    messages = [m for m in mail.outbox if address in m.to and "asks to sign in" in m.subject]
    assert messages, [(m.to, m.subject) for m in mail.outbox]
    match = re.search(r"https?://\S+/impersonation/approve/[^\s\"'<>]+/", str(messages[-1].body))
    assert match, messages[-1].body
    return path_of(match.group(0))
