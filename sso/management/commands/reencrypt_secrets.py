"""Re-encrypt every stored secret with the newest FIELD_ENCRYPTION_KEYS key (key rotation:
put the new key first, run this, then drop the old key)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from config import encryption
from consent.models import ReceiptKey
from sso.models import Connection


class Command(BaseCommand):
    help = (
        "Re-encrypt stored secrets (IdP client secrets, SP private keys, consent receipt keys) "
        "with the newest key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = 0
        with transaction.atomic():
            for connection in Connection.objects.select_for_update():
                connection.sp_private_key_encrypted = encryption.reencrypt(
                    connection.sp_private_key_encrypted
                )
                connection.client_secret_encrypted = encryption.reencrypt(
                    connection.client_secret_encrypted
                )
                connection.sp_next_private_key_encrypted = encryption.reencrypt(
                    connection.sp_next_private_key_encrypted
                )
                connection.save(
                    update_fields=[
                        "sp_private_key_encrypted",
                        "sp_next_private_key_encrypted",
                        "client_secret_encrypted",
                    ]
                )
                count += 1
            keys = 0
            for key in ReceiptKey.objects.select_for_update():
                key.private_key_encrypted = encryption.reencrypt(key.private_key_encrypted)
                key.save(update_fields=["private_key_encrypted"])
                keys += 1
        self.stdout.write(
            f"Re-encrypted the secrets of {count} connection(s) and {keys} receipt key(s)."
        )
