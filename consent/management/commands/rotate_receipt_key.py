"""Sign consent receipts with a new key from now on. The old key stays in the JWKS, so every
receipt already issued keeps verifying."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from audit.actions import Action
from audit.services import record
from consent import keys


class Command(BaseCommand):
    help = "Retire the active consent receipt key and make a new one (the old one stays published)."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            key = keys.rotate()
            record(
                Action.CONSENT_RECEIPT_KEY_ROTATED,
                actor_text="manage.py rotate_receipt_key",
                target=key,
                data={"kid": key.kid},
            )
        self.stdout.write(f"Receipts are now signed with {key.kid}.")
