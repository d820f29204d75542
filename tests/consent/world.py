"""The people of the privacy-rights tests: Pat, who exports or erases their data, and Bobby, a
bystander whose data must come through untouched. ``build_world`` gives Pat data in every section
through the product's own pages (an organization joined by invitation, a second factor, a linked
identity, consents), with Bobby inviting Pat and a stranger trying Pat's password."""

from __future__ import annotations

import re
from types import SimpleNamespace

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.core import mail
from django.test import Client

from consent import services
from consent.models import Purpose
from organizations.models import Membership
from tests.accounts.mfa_helpers import enroll_totp, password_step, totp_now
from tests.factories import DEFAULT_PASSWORD, UserFactory

PERSON_EMAIL = "pat@person.example"
PERSON_ALT = "pat.alt@person.example"
BYSTANDER_EMAIL = "bobby.bystander@else.example"
BYSTANDER_NAME = "Bobby Bystanderson"
BYSTANDER_IP = "198.51.100.7"
BYSTANDER_UA = "BystanderBrowser/2.0"
ATTACKER_IP = "203.0.113.66"
ATTACKER_UA = "AttackerBrowser/6.6"
FRIEND_EMAIL = "friend.of.pat@else.example"
PERSON_IP = "192.0.2.55"
PERSON_UA = "PatBrowser/1.0"


def accept_required(user) -> None:
    services.accept_pending(
        user=user, purposes=list(Purpose.objects.filter(required=True, organization__isnull=True))
    )


def signed_in(user, **headers) -> Client:
    """Signed in with the password: for an account without MFA that also counts as step-up."""
    client = Client(**headers)
    response = client.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302, response.content[:300]
    return client


def build_world() -> SimpleNamespace:
    """Pat, with data in every section of the export, and Bobby, a bystander who shares an
    organization with Pat, invited Pat to it, changed Pat's role, and (from elsewhere) tried
    Pat's password."""
    pat = UserFactory(email=PERSON_EMAIL, display_name="Pat Person")
    EmailAddress.objects.create(user=pat, email=PERSON_ALT, verified=True, primary=False)
    bobby = UserFactory(email=BYSTANDER_EMAIL, display_name=BYSTANDER_NAME)
    accept_required(pat)
    accept_required(bobby)

    bystander = signed_in(bobby, HTTP_USER_AGENT=BYSTANDER_UA, REMOTE_ADDR=BYSTANDER_IP)
    assert bystander.post("/orgs/", {"name": "Acme", "slug": "acme"})["Location"] == "/orgs/acme/"
    mail.outbox.clear()
    invited = bystander.post("/orgs/acme/invitations/", {"email": PERSON_EMAIL, "role": "member"})
    assert invited.status_code == 302
    [invitation] = mail.outbox
    found = re.search(r"https?://[^/\s]+(/invitations/[^/\s]+/)", str(invitation.body))
    assert found is not None, invitation.body
    invitation_link = found[1]

    stranger = Client(HTTP_USER_AGENT=ATTACKER_UA, REMOTE_ADDR=ATTACKER_IP)
    stranger.post("/accounts/login/", {"login": PERSON_EMAIL, "password": "not the password"})

    device = enroll_totp(pat, "Pat's phone")
    SocialAccount.objects.create(
        user=pat, provider="acme-idp", uid="pat-1234", extra_data={"given_name": "Pat"}
    )
    client = Client(HTTP_USER_AGENT=PERSON_UA, REMOTE_ADDR=PERSON_IP)
    password_step(client, pat)
    second = client.post("/accounts/2fa/", {"kind": "totp", "code": totp_now(device)})
    assert second.status_code == 302
    assert client.session.get("_auth_user_id") == str(pat.pk)

    assert client.get(invitation_link)["Location"] == "/invitations/accept/"
    assert client.post("/invitations/accept/")["Location"] == "/orgs/acme/"
    membership = Membership.objects.get(user=pat, organization__slug="acme")
    role = bystander.post(f"/orgs/acme/members/{membership.pk}/role/", {"role": "admin"})
    assert role.status_code == 302

    # Now an admin, Pat invites a friend: the friend's address is not Pat's to export.
    assert (
        client.post(
            "/orgs/acme/invitations/", {"email": FRIEND_EMAIL, "role": "member"}
        ).status_code
        == 302
    )

    marketing = Purpose.objects.get(key="marketing_email", organization__isnull=True)
    decided = client.post(
        "/account/privacy/decide/", {"purpose": str(marketing.public_id), "decision": "granted"}
    )
    assert decided.status_code == 302
    return SimpleNamespace(person=pat, bystander=bobby, client=client, device=device)
