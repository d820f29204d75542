"""Sign consent receipts with a new key from now on. The old key stays in the JWKS, so every
receipt already issued keeps verifying."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from consent import keys


class Command(BaseCommand):
    help = "Retire the active consent receipt key and make a new one (the old one stays published)."

    def handle(self, *args: Any, **options: Any) -> None:
        key = keys.rotate(actor_text="manage.py rotate_receipt_key")
        self.stdout.write(f"Receipts are now signed with {key.kid}.")
