"""Re-encrypt everything Gatehouse keeps encrypted with the newest FIELD_ENCRYPTION_KEYS key
(key rotation: put the new key first, run this, then drop the old key; docs/operations.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import models, transaction

from accounts.impersonation.models import Impersonation
from accounts.profiling.models import ProfileAnswer
from audit.chain.models import CheckpointKey
from audit.models import AuditExport
from audit.streams.models import LogStream
from config import encryption
from consent.models import DataSubjectRequest, ExportArchive, ReceiptKey
from events.models import WebhookSecret
from provider.models import SigningKey
from social.models import SocialProvider
from sso.models import Connection

# What is encrypted, model by model, and how many rows one short transaction re-encrypts:
# export archives are big, so they go one at a time. Every column declared with
# config.encryption's EncryptedTextField or EncryptedBinaryField belongs here, and
# tests/config/test_reencrypt_secrets.py fails while one is missing.
ENCRYPTED: list[tuple[type[models.Model], tuple[str, ...], int, str]] = [
    (
        Connection,
        ("sp_private_key_encrypted", "sp_next_private_key_encrypted", "client_secret_encrypted"),
        100,
        "SSO connection(s)",
    ),
    (ReceiptKey, ("private_key_encrypted",), 100, "consent receipt key(s)"),
    (SigningKey, ("private_jwk",), 100, "OpenID provider signing key(s)"),
    (DataSubjectRequest, ("identifiers",), 100, "erasure(s) under way"),
    (ExportArchive, ("data",), 1, "export archive(s)"),
    # A checkpoint key's row passes its guard (audit migration 0026): only the encrypted
    # private half changes, which the guard lets through.
    (CheckpointKey, ("private_key_encrypted",), 100, "audit checkpoint key(s)"),
    (WebhookSecret, ("secret_encrypted",), 100, "webhook signing secret(s)"),
    (LogStream, ("credential_encrypted",), 100, "log stream credential(s)"),
    (AuditExport, ("data",), 1, "audit export(s)"),
    (
        SocialProvider,
        ("client_secret_encrypted", "apple_private_key_encrypted"),
        100,
        "social login provider(s)",
    ),
    (ProfileAnswer, ("value_encrypted",), 500, "profile answer(s)"),
    (Impersonation, ("staff_session_key",), 100, "impersonation(s) under way"),
]


def rotated(value: str | bytes | memoryview | None) -> str | bytes | memoryview | None:
    if not value:
        return value
    if isinstance(value, str):
        return encryption.reencrypt(value)
    return encryption.reencrypt_bytes(bytes(value))


def reencrypt_rows(model: type[models.Model], fields: tuple[str, ...], batch: int) -> int:
    """Re-encrypt ``fields`` of every row that has one set, ``batch`` rows per transaction, each
    row locked while it is rewritten so that a job writing it at the same time is not undone."""
    has_one = models.Q()
    for name in fields:
        has_one |= models.Q(**{f"{name}__isnull": False})
    ids = list(model._default_manager.filter(has_one).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), batch):
        with transaction.atomic(durable=True):
            rows = model._default_manager.filter(pk__in=ids[start : start + batch])
            for row in rows.select_for_update().only("pk", *fields):
                for name in fields:
                    setattr(row, name, rotated(getattr(row, name)))
                row.save(update_fields=list(fields))
    return len(ids)


class Command(BaseCommand):
    help = (
        "Re-encrypt stored secrets and encrypted data (IdP client secrets, SP private keys, "
        "consent receipt keys, the provider's signing keys, audit checkpoint keys, webhook "
        "signing secrets, log stream credentials, export archives, audit exports, the "
        "identifiers of erasures under way) with the newest FIELD_ENCRYPTION_KEYS key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        for model, fields, batch, what in ENCRYPTED:
            count = reencrypt_rows(model, fields, batch)
            self.stdout.write(f"Re-encrypted {count} {what}.")
