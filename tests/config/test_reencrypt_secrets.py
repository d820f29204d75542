"""Rotating FIELD_ENCRYPTION_KEYS (docs/operations.md, "Rotating keys"): after the new key is
put first, ``reencrypt_secrets`` has run and the old key is dropped, everything Gatehouse keeps
encrypted still reads. The audit chain keeps signing checkpoints that verify; webhooks keep
their secrets, log streams their credentials, audit exports stay downloadable; and no encrypted
column, today's or a later one, can be left out of the command."""

from __future__ import annotations

import base64
import binascii
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.core.management import call_command
from django.db import connection, models
from django.utils import timezone

from accounts.impersonation.models import Impersonation
from accounts.profiling.models import ProfileField
from accounts.profiling.services import save_answers
from audit import exports
from audit.chain import checkpoints
from audit.chain.models import CheckpointKey
from audit.chain.verify import verify
from audit.models import AuditExport
from audit.streams.delivery import destination_of
from audit.streams.models import LogStream
from config import encryption
from config.management.commands.reencrypt_secrets import ENCRYPTED
from consent import keys as receipt_keys
from consent.erasure.identifiers import Identifiers
from consent.export.archive import encrypt_archive
from consent.models import DataSubjectRequest, ExportArchive
from events import services as webhook_services
from events.signing import live_secrets
from provider import keys as provider_keys
from provider.services.keys import ensure_signing_keys
from social.models import SocialProvider
from tests.audit.chain.helpers import seal_in_test_transaction
from tests.audit.helpers import event
from tests.factories import UserFactory
from tests.sso.builders import HOST, org_with_domain, saml_connection

pytestmark = pytest.mark.django_db
CHAIN = 91  # an organization's chain (no organization row is needed to seal and sign it)


@dataclass
class Keys:
    """Two Fernet keys and a way to choose which ones every process has."""

    old: str
    new: str
    settings: object

    def use(self, *which: str) -> None:
        self.settings.FIELD_ENCRYPTION_KEYS = list(which)  # type: ignore[attr-defined]
        encryption._fernet.cache_clear()
        # What a process started after the change would hold: no private key decrypted before.
        checkpoints._private_key.cache_clear()
        receipt_keys._private_key.cache_clear()
        provider_keys.forget_cached_keys()


@pytest.fixture
def keys(settings) -> Iterator[Keys]:
    made = Keys(Fernet.generate_key().decode(), Fernet.generate_key().decode(), settings)
    made.use(made.old)
    yield made
    made.use(made.new)  # settings puts the suite's own keys back afterwards


def rotate(keys: Keys) -> str:
    """The operator's rotation: the new key first, the command, then the old key dropped."""
    keys.use(keys.new, keys.old)
    out = io.StringIO()
    call_command("reencrypt_secrets", stdout=out)
    keys.use(keys.new)
    return out.getvalue()


def seal() -> None:
    if connection.vendor == "postgresql":
        seal_in_test_transaction()
    else:
        from audit.chain import sealer

        while sealer.seal_batch():
            pass


def test_checkpoints_sign_and_verify_after_the_old_key_is_dropped(keys):
    """The checkpoint keys' private halves are re-encrypted, the active key's and a retired
    one's alike. On PostgreSQL this runs as the application role, so the write passes the
    key table's guard (audit migration 0026) as it stands."""
    for _ in range(3):
        event(CHAIN)
    seal()
    first = checkpoints.sign(CHAIN)
    checkpoints.rotate()  # the first key retires; a second one signs from now on
    event(CHAIN)
    seal()
    second = checkpoints.sign(CHAIN)
    assert first is not None
    assert second is not None
    stored = dict(CheckpointKey.objects.values_list("kid", "private_key_encrypted"))
    assert len(stored) == 2

    out = rotate(keys)

    event(CHAIN)
    seal()
    third = checkpoints.sign(CHAIN)  # with the new key alone
    assert third is not None
    assert third.key_id == second.key_id
    assert third.size == second.size + 1
    for checkpoint in (first, second, third):
        report = verify(CHAIN, checkpoints.read(checkpoints.as_json(checkpoint)))
        assert report.ok, report.summary()
    for key in CheckpointKey.objects.all():
        assert key.private_key_encrypted != stored[key.kid]
        assert encryption.decrypt(key.private_key_encrypted)  # the retired one too
    assert "Re-encrypted 2 audit checkpoint key(s)." in out


def test_webhook_secrets_stream_credentials_and_audit_exports_read_after_the_rotation(keys):
    org, owner = org_with_domain()
    created = webhook_services.create_endpoint(
        actor=UserFactory(is_staff=True), organization=None, url="https://93.184.216.34/hook"
    )
    newer = webhook_services.rotate_secret(
        actor=UserFactory(is_staff=True), endpoint=created.endpoint, overlap_hours=24
    )
    stream = LogStream.objects.create(
        organization=org,
        name="SIEM",
        kind="splunk_hec",
        url="https://93.184.216.34/services/collector",
        credential_encrypted=encryption.encrypt("hec-token-0123"),
    )
    blank = LogStream.objects.create(
        organization=org, name="Syslog", kind="syslog_tls", host="siem.example.net", port=6514
    )
    export = AuditExport.objects.create(
        organization=org,
        format="csv",
        status=AuditExport.Status.READY,
        data=encryption.encrypt_bytes(gzip.compress(b"occurred_at,action\n")),
        expires_at=timezone.now() + timedelta(hours=1),
    )

    out = rotate(keys)

    assert live_secrets(created.endpoint.pk) == [newer, created.secret]
    stream.refresh_from_db()
    assert destination_of(stream).credential == "hec-token-0123"
    blank.refresh_from_db()
    assert blank.credential_encrypted == ""
    downloaded = exports.download(org=org, actor=owner.user, public_id=export.public_id)
    assert downloaded is not None
    assert gzip.decompress(downloaded[1]) == b"occurred_at,action\n"
    assert "Re-encrypted 2 webhook signing secret(s)." in out
    assert "Re-encrypted 2 log stream credential(s)." in out
    assert "Re-encrypted 1 audit export(s)." in out


# --- Nothing encrypted is left out ----------------------------------------------------------------


def encrypted_columns() -> set[tuple[type[models.Model], str]]:
    """Every column declared as holding ciphertext, in every installed app."""
    marks = (encryption.EncryptedTextField, encryption.EncryptedBinaryField)
    return {
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, marks)
    }


def test_the_command_rewrites_every_column_declared_encrypted():
    listed = {(model, name) for model, fields, _batch, _what in ENCRYPTED for name in fields}
    assert listed == encrypted_columns()
    # The ones this work found missing, by name, so that a broken scan cannot pass unseen.
    assert {
        (CheckpointKey, "private_key_encrypted"),
        (LogStream, "credential_encrypted"),
        (AuditExport, "data"),
    } <= listed
    assert any(model._meta.label == "events.WebhookSecret" for model, _name in listed)


def test_a_column_named_encrypted_is_declared_so():
    """A new column named for what it holds, but declared as a plain text or binary field,
    would be missed by the command: its declaration must say it holds ciphertext."""
    named = {
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if "encrypted" in field.name
    }
    assert named
    assert named <= encrypted_columns()


def _fernet_token(value: object) -> bytes | None:
    """``value`` as a Fernet token, or None when it is not one (version byte 0x80 and at least
    a timestamp, an IV and an HMAC)."""
    if isinstance(value, memoryview | bytes):
        raw = bytes(value)
    elif isinstance(value, str):
        raw = value.encode("ascii", "replace")
    else:
        return None
    try:
        decoded = base64.urlsafe_b64decode(raw)
    except (binascii.Error, ValueError):
        return None
    return raw if len(decoded) >= 57 and decoded[0] == 0x80 else None


def test_after_the_rotation_no_column_anywhere_holds_what_only_the_old_key_reads(keys, settings):
    """One of every kind of encrypted value Gatehouse stores, made by the code that makes it;
    after the rotation every Fernet token in every text and binary column of every table
    reads with the new key alone (whatever the column is declared as)."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]
    org, owner = org_with_domain()
    saml_connection(org, owner)  # Gatehouse's SAML private key
    receipt_keys.active_key()
    ensure_signing_keys()
    checkpoints.active_key()
    webhook_services.create_endpoint(
        actor=UserFactory(is_staff=True), organization=None, url="https://93.184.216.34/hook"
    )
    LogStream.objects.create(
        organization=org,
        name="SIEM",
        kind="splunk_hec",
        url="https://93.184.216.34/services/collector",
        credential_encrypted=encryption.encrypt("hec-token-0123"),
    )
    AuditExport.objects.create(
        organization=org, format="csv", status="ready", data=encryption.encrypt_bytes(b"gz")
    )
    SocialProvider.objects.create(  # a social login's client secret and Apple's key
        kind="apple",
        slug="apple",
        name="Apple",
        client_id="com.example",
        client_secret_encrypted=encryption.encrypt("client-secret"),
        apple_private_key_encrypted=encryption.encrypt("apple-key"),
    )
    who = Identifiers(everywhere=["gone@example.com"], names=["Gone Person"])
    erasure = DataSubjectRequest.objects.create(
        user=UserFactory(), kind="erasure", status="erasing", identifiers=who.dumps()
    )
    ExportArchive.objects.create(
        request=DataSubjectRequest.objects.create(user=owner.user, kind="export"),
        data=encrypt_archive(b"zip"),
        sha256="0" * 64,
        size=3,
    )
    company = ProfileField.objects.create(key="company", label="Company", kind="company")
    save_answers(user=owner.user, fields=[company], values={"company": "Acme"}, skip_blank=True)
    Impersonation.objects.create(  # a staff session waiting while its holder impersonates
        staff=UserFactory(is_staff=True),
        person=UserFactory(),
        reason="Ticket 1",
        minutes=15,
        status="active",
        requested_at=timezone.now(),
        staff_session_key=encryption.encrypt("staff-session-key"),
    )

    rotate(keys)

    new_only = Fernet(keys.new.encode())
    found: dict[str, int] = {}
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if not isinstance(field, models.TextField | models.CharField | models.BinaryField):
                continue
            values = model._default_manager.exclude(**{f"{field.name}__isnull": True})
            for value in values.values_list(field.name, flat=True).iterator():
                token = _fernet_token(value)
                if token is None:
                    continue
                label = f"{model._meta.label}.{field.name}"
                try:
                    new_only.decrypt(token)
                except InvalidToken:
                    pytest.fail(f"{label} still holds a token the new key cannot read")
                found[label] = found.get(label, 0) + 1
    expected = {f"{model._meta.label}.{name}" for model, name in encrypted_columns()}
    # A SAML connection has no client secret, and no next key until its key rotation starts.
    expected -= {
        "sso.Connection.sp_next_private_key_encrypted",
        "sso.Connection.client_secret_encrypted",
    }
    assert expected <= set(found), expected - set(found)
    erasure.refresh_from_db()
    assert erasure.identifiers is not None
    assert Identifiers.loads(erasure.identifiers) == who
