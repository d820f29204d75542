"""Encryption of what the database keeps secret (IdP client secrets, SP private keys, receipt
keys, signing keys, webhook and log stream secrets, export archives, the identifiers of an
erasure under way).

Fernet (AES-128-CBC + HMAC-SHA256) from ``cryptography``, keyed by ``FIELD_ENCRYPTION_KEYS``:
a comma-separated list of Fernet keys, newest first. New values are encrypted with the first
key; every key in the list can decrypt, so a key is rotated by putting a new one in front,
re-encrypting (``manage.py reencrypt_secrets``) and then dropping the old one. Production refuses
to start without the setting; on a laptop the key is derived from ``SECRET_KEY``.

A column that holds what ``encrypt`` or ``encrypt_bytes`` returned is declared with
``EncryptedTextField`` or ``EncryptedBinaryField``: the re-encryption command must rewrite every
such column, and a test checks that it knows each one (tests/config/test_reencrypt_secrets.py).
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver


class SecretUnreadable(Exception):
    """A stored secret could not be decrypted: the key it was written with is gone."""


@cache
def _fernet() -> MultiFernet:
    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        digest = hashlib.sha256(b"gatehouse-field-encryption:" + settings.SECRET_KEY.encode())
        keys = [base64.urlsafe_b64encode(digest.digest()).decode()]
    return MultiFernet([Fernet(key) for key in keys])


@receiver(setting_changed)
def _forget_keys(*, setting: str, **kwargs: object) -> None:
    """Keys changed at run time (tests, with override_settings or pytest-django's
    ``settings``): build the next Fernet from the new ones, and from the old ones again when
    they come back, instead of encrypting on with whichever was cached."""
    if setting in ("FIELD_ENCRYPTION_KEYS", "SECRET_KEY"):
        _fernet.cache_clear()


def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "a stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS"
        ) from exc


def encrypt_bytes(data: bytes) -> bytes:
    return _fernet().encrypt(data)


def decrypt_bytes(token: bytes) -> bytes:
    try:
        return _fernet().decrypt(token)
    except InvalidToken as exc:
        raise SecretUnreadable(
            "stored data cannot be decrypted with FIELD_ENCRYPTION_KEYS"
        ) from exc


def reencrypt(token: str) -> str:
    """The same secret, encrypted with the newest key."""
    return _fernet().rotate(token.encode()).decode() if token else ""


def reencrypt_bytes(token: bytes) -> bytes:
    """The same data, encrypted with the newest key."""
    try:
        return _fernet().rotate(token)
    except InvalidToken as exc:
        raise SecretUnreadable(
            "stored data cannot be decrypted with FIELD_ENCRYPTION_KEYS"
        ) from exc


# --- Columns that hold ciphertext ----------------------------------------------------------------


class EncryptedTextField(models.TextField):
    """A text column holding a Fernet token from ``encrypt`` (or ``""``). It stores and reads
    like ``TextField``; it only marks the column as one ``reencrypt_secrets`` must rewrite.

    Migrations record it as a plain ``TextField`` (``deconstruct``): the mark means nothing to
    the database, and migrations then never import this module."""

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.TextField", args, kwargs


class EncryptedBinaryField(models.BinaryField):
    """A binary column holding a Fernet token from ``encrypt_bytes``: the same mark as
    ``EncryptedTextField``, for bytes."""

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.BinaryField", args, kwargs
