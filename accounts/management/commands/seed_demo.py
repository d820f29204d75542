"""Demo data for a newcomer's first ``make run``: a staff user and an end user, both verified,
and an OpenID Connect app to sign in to (provider/demo.py)."""

from __future__ import annotations

import secrets
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import User

DEMO_USERS = (
    # email, display name, staff
    ("admin@gatehouse.localhost", "Support Admin", True),
    ("ada@example.com", "Ada Lovelace", False),
)


class Command(BaseCommand):
    help = "Create (or reset) the demo users and print how to sign in. Never use in production."

    def handle(self, *args: Any, **options: Any) -> None:
        lines = []
        users: list[User] = []
        with transaction.atomic(durable=True):
            for email, name, staff in DEMO_USERS:
                password = secrets.token_urlsafe(12)
                user = User.objects.filter(email__iexact=email).first()
                if user is None:
                    user = User(email=email)
                user.display_name = name
                user.is_staff = staff
                user.is_superuser = staff
                user.set_password(password)
                user.save()
                EmailAddress.objects.update_or_create(
                    user=user, email=email, defaults={"verified": True, "primary": True}
                )
                lines.append((email, password, "staff: /admin/" if staff else "end user"))
                users.append(user)
        # Outside the users' transaction: consent's services own theirs.
        self._consent_demo(users)
        self.stdout.write("\nDemo users:")
        for email, password, role in lines:
            self.stdout.write(f"  {email:30} {password:20} {role}")
        self.stdout.write(
            "These passwords are new at every run (make run sets them again; the old ones stop\n"
            "working), so copy them now. The staff user adds a second factor before /admin/.\n"
            "Sign in at http://localhost:8000/accounts/login/ (localhost, not 127.0.0.1:\n"
            "passkeys need a host name).\n"
        )
        from provider.demo import instructions, seed_demo_app

        self.stdout.write(instructions(seed_demo_app(), settings.GATEHOUSE_PUBLIC_URL))

    def _consent_demo(self, users: list[User]) -> None:
        """A first published version of the terms and the privacy policy (so sign-up asks for
        them), accepted by the demo users. Publish a new version with "requires re-acceptance"
        in the admin to see the re-acceptance page at the next visit."""
        from consent import services as consent
        from consent.models import PolicyDocument, PolicyVersion, Purpose

        for key in ("terms", "privacy"):
            document = PolicyDocument.objects.filter(key=key, organization__isnull=True).first()
            if document is None or document.versions.published().exists():
                continue
            draft = PolicyVersion.objects.create(
                document=document,
                label="Demo 1",
                content=f"{document.title} of this Gatehouse demo.\n\nNothing binding here.",
            )
            consent.publish_version(version=draft, actor=None, reason="seed_demo")
        required = list(Purpose.objects.filter(required=True, organization__isnull=True))
        for user in users:
            consent.accept_pending(user=user, purposes=required)
