"""Rows for the admin-at-scale tests: a few of everything staff page through, made so that
each row points at its own person, organization and application (an N+1 shows up as one more
query per row)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from allauth.socialaccount.models import SocialAccount
from allauth.usersessions.models import UserSession
from django.test import Client
from django.utils import timezone

from accounts.models import OutboundEmail, User
from audit.models import AuditEvent
from consent.models import Purpose
from consent.services import record_consent
from organizations.models import Invitation, Membership, Organization
from provider.models import AccessToken, RefreshToken
from sso.models import Connection
from tests.api.oauth_world import backend
from tests.conftest import force_login_verified
from tests.factories import UserFactory

_serial = itertools.count()


def staff_client() -> Client:
    """A superuser who has passed a second factor, as the admin requires."""
    return force_login_verified(
        Client(), UserFactory(email="staff@gatehouse.test", is_staff=True, is_superuser=True)
    )


def grow(rows: int) -> None:
    """``rows`` more of each kind of row, each with its own person, organization and app."""
    purpose = Purpose.objects.get_or_create(key="newsletter", defaults={"name": "Newsletter"})[0]
    for _ in range(rows):
        n = next(_serial)
        person = UserFactory(email=f"person{n}@scale.example", display_name=f"Person {n}")
        org = Organization.objects.create(name=f"Org {n}", slug=f"org-{n}")
        Membership.objects.create(organization=org, user=person, role="member", source="admin")
        Invitation.objects.create(
            organization=org,
            email=f"invitee{n}@scale.example",
            role="member",
            invited_by=person,
            token_hash=f"{n:064d}",
            expires_at=timezone.now() + timedelta(days=7),
        )
        AuditEvent(
            action="login.succeeded",
            actor_text=person.email,
            actor=person,
            organization_id=org.pk,
            target_type="user",
            target_id=str(person.pk),
        ).save()
        record_consent(user=person, purpose=purpose, decision="granted", method="api")
        OutboundEmail.objects.create(
            template="account/email/x",
            to=person.email,
            from_email="gh@gatehouse.test",
            subject="Hi",
        )
        UserSession.objects.create(
            user=person, ip="192.0.2.1", session_key=f"session{n:032d}", user_agent="pytest"
        )
        SocialAccount.objects.create(user=person, provider="github", uid=f"gh{n}")
        Connection.objects.create(
            organization=org, name=f"IdP {n}", slug=f"idp-{n}", protocol="oidc"
        )
        app = backend(name=f"App {n}", organization=org).application
        token = AccessToken.objects.create(
            user=person,
            application=app,
            token=f"access-{n}",
            expires=timezone.now() + timedelta(hours=1),
            scope="openid",
        )
        RefreshToken.objects.create(
            user=person, application=app, token=f"refresh-{n}", access_token=token
        )


def newest(model: type[Any]) -> Any:
    return model.objects.order_by("-pk").first()


def some_user() -> User | None:
    return User.objects.filter(email__endswith="@scale.example").order_by("-pk").first()
