"""Operating the receipt keys: rotation from the command line (audited, old receipts still
verify) and re-encryption under a new FIELD_ENCRYPTION_KEYS key (receipts still sign, archives
and erasures under way still read)."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from audit.models import AuditEvent
from config import encryption
from consent import keys, receipts, services
from consent.erasure.identifiers import Identifiers
from consent.export.archive import decrypt_archive, encrypt_archive
from consent.models import DataSubjectRequest, ExportArchive, ReceiptKey
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


def archive_waiting_for_download(data: bytes) -> ExportArchive:
    export = DataSubjectRequest.objects.create(user=UserFactory(), kind="export", status="ready")
    return ExportArchive.objects.create(
        request=export, data=encrypt_archive(data), sha256="0" * 64, size=len(data)
    )


def test_reencrypt_secrets_covers_export_archives_and_erasures_under_way(settings):
    """After the rotation the old key can go: an archive waiting to be downloaded and the
    identifiers of an erasure under way still read."""
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    encryption._fernet.cache_clear()
    try:
        archive_waiting_for_download(b"zip bytes")
        who = Identifiers(everywhere=["gone@example.com"], names=["Gone Person"])
        erasure = DataSubjectRequest.objects.create(
            user=UserFactory(), kind="erasure", status="erasing", identifiers=who.dumps()
        )
        DataSubjectRequest.objects.create(user=UserFactory(), kind="erasure", status="scheduled")
        settings.FIELD_ENCRYPTION_KEYS = [new, old]
        encryption._fernet.cache_clear()
        out = io.StringIO()

        call_command("reencrypt_secrets", stdout=out)

        settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is gone
        encryption._fernet.cache_clear()
        assert decrypt_archive(ExportArchive.objects.get().data) == b"zip bytes"
        erasure.refresh_from_db()
        assert erasure.identifiers is not None
        assert Identifiers.loads(erasure.identifiers) == who
        assert "Re-encrypted 1 export archive(s)." in out.getvalue()
        assert "Re-encrypted 1 erasure(s) under way." in out.getvalue()
    finally:
        encryption._fernet.cache_clear()


def test_reencrypt_secrets_stops_clearly_on_data_no_key_can_read(settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    encryption._fernet.cache_clear()
    try:
        archive_waiting_for_download(b"zip bytes")
        settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
        encryption._fernet.cache_clear()

        with pytest.raises(encryption.SecretUnreadable, match="FIELD_ENCRYPTION_KEYS"):
            call_command("reencrypt_secrets", stdout=io.StringIO())
    finally:
        encryption._fernet.cache_clear()


def test_reencrypt_secrets_covers_the_providers_signing_keys(settings):
    """After the rotation the old key can go: the provider still signs with its keys, and
    tokens it signed before still verify."""
    from jwcrypto import jwt

    from provider import keys as provider_keys
    from provider.models import SigningKey
    from provider.services.keys import ensure_signing_keys

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    encryption._fernet.cache_clear()
    provider_keys.forget_cached_keys()
    try:
        ensure_signing_keys()
        before = {row.kid: row.private_jwk for row in SigningKey.objects.all()}
        settings.FIELD_ENCRYPTION_KEYS = [new, old]
        encryption._fernet.cache_clear()
        out = io.StringIO()
        call_command("reencrypt_secrets", stdout=out)
        assert "Re-encrypted 2 OpenID provider signing key(s)." in out.getvalue()
        settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is gone
        encryption._fernet.cache_clear()
        provider_keys.forget_cached_keys()
        for row in SigningKey.objects.all():
            assert row.private_jwk != before[row.kid]
            key = provider_keys.active_key(row.alg)
            token = jwt.JWT(header={"alg": row.alg, "kid": row.kid}, claims={"sub": "x"})
            token.make_signed_token(key.private)
            jwt.JWT(jwt=token.serialize(), key=provider_keys.public_keyset(), algs=[row.alg])
    finally:
        encryption._fernet.cache_clear()
        provider_keys.forget_cached_keys()
