"""Operating the receipt keys: rotation from the command line (audited, old receipts still
verify) and re-encryption under a new FIELD_ENCRYPTION_KEYS key (receipts still sign)."""

from __future__ import annotations

import io

from cryptography.fernet import Fernet
from django.core.management import call_command

from audit.models import AuditEvent
from config import encryption
from consent import keys, receipts, services
from consent.models import ReceiptKey
from tests.factories import UserFactory


def grant(purposes, person):
    return services.record_consent(
        user=person, purpose=purposes["analytics"], decision="granted", method="api"
    )[0]


def test_rotate_receipt_key_is_audited_and_old_receipts_still_verify(purposes):
    before = grant(purposes, UserFactory())
    call_command("rotate_receipt_key", stdout=io.StringIO())
    after = grant(purposes, UserFactory())
    assert ReceiptKey.objects.filter(status="active").count() == 1
    assert ReceiptKey.objects.count() == 2
    for event in (before, after):
        receipts.verify(event.receipt, keys.jwks())
    event = AuditEvent.objects.get(action="consent.receipt_key_rotated")
    assert event.data["kid"] == ReceiptKey.objects.get(status="active").kid


def test_reencrypt_secrets_covers_the_receipt_keys(settings, purposes):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    encryption._fernet.cache_clear()
    keys._private_key.cache_clear()
    try:
        grant(purposes, UserFactory())
        settings.FIELD_ENCRYPTION_KEYS = [new, old]
        encryption._fernet.cache_clear()
        call_command("reencrypt_secrets", stdout=io.StringIO())
        settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is gone
        encryption._fernet.cache_clear()
        keys._private_key.cache_clear()
        later = grant(purposes, UserFactory())
        receipts.verify(later.receipt, keys.jwks())
    finally:
        encryption._fernet.cache_clear()
        keys._private_key.cache_clear()
