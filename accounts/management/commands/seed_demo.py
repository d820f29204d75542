"""Demo data for a newcomer's first ``make run``: a staff user and an end user, both verified."""

from __future__ import annotations

import secrets
from typing import Any

from allauth.account.models import EmailAddress
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
        with transaction.atomic():
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
        self.stdout.write("\nDemo users (passwords are new each run):")
        for email, password, role in lines:
            self.stdout.write(f"  {email:30} {password:20} {role}")
        self.stdout.write("Sign in at http://localhost:8000/accounts/login/\n")
