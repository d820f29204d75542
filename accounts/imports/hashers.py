"""Password hashers that only verify hashes brought in from other systems.

Each one checks a password against a hash in the form another system exported it, kept in
Django's ``<algorithm>$...`` form so that Django's ``check_password`` finds the hasher. None of
them makes hashes: ``encode`` refuses, and ``must_update`` is always true, so the first
successful sign-in re-hashes the password with the first hasher of ``PASSWORD_HASHERS``
(Gatehouse's Argon2id) and the imported hash is gone (docs/import.md).

- ``bcrypt``: the ``$2a$``/``$2b$``/``$2y$`` strings of Auth0, Okta and most web frameworks.
  Same name as Django's hasher, so hashes Django itself stored as ``bcrypt$...`` verify too.
- ``pbkdf2_imported``: PBKDF2 with a binary salt and a derived key of any length, as Keycloak
  stores it (base64 salt, base64 value, 64-byte keys by default). Django's own
  ``pbkdf2_sha256$`` hashes are verified by Django's hasher, listed in the settings.
- ``firebase_scrypt``: Firebase Authentication's scrypt, which encrypts the project's signer
  key with a key derived from the password; the signer key is a setting.
- ``legacy``: no hash at all: the old system is asked (accounts/imports/legacy.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import BasePasswordHasher, mask_hash

BCRYPT_MAX_BYTES = 72  # bcrypt reads no further; the library refuses longer input
PBKDF2_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


class ImportOnlyHasher(BasePasswordHasher):
    """Verifies; never hashes anything new."""

    def salt(self) -> str:
        raise NotImplementedError(f"{self.algorithm} hashes are imported, never made.")

    def encode(self, password: str, salt: str) -> str:
        raise NotImplementedError(f"{self.algorithm} hashes are imported, never made.")

    def must_update(self, encoded: str) -> bool:
        return True

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass

    def safe_summary(self, encoded: str) -> dict[Any, Any]:
        return {"algorithm": self.algorithm, "hash": mask_hash(encoded.split("$", 1)[-1])}

    def decode(self, encoded: str) -> dict[str, Any]:
        return {"algorithm": self.algorithm, "hash": encoded.split("$", 1)[-1], "salt": ""}


class ImportedBcryptHasher(ImportOnlyHasher):
    """``bcrypt$<the $2a$/$2b$/$2y$ string>``. Passwords longer than 72 bytes are cut there, as
    the system that made the hash did."""

    algorithm = "bcrypt"

    def verify(self, password: str, encoded: str) -> bool:
        import bcrypt

        algorithm, data = encoded.split("$", 1)
        if algorithm != self.algorithm:
            return False
        try:
            return bool(bcrypt.checkpw(password.encode()[:BCRYPT_MAX_BYTES], data.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            return False  # not a hash bcrypt can read

    def safe_summary(self, encoded: str) -> dict[Any, Any]:
        data = encoded.split("$", 1)[-1]
        return {"algorithm": self.algorithm, "work factor": data[4:6], "hash": mask_hash(data)}


class ImportedPBKDF2Hasher(ImportOnlyHasher):
    """``pbkdf2_imported$<sha1|sha256|sha512>$<iterations>$<base64 salt>$<base64 key>``."""

    algorithm = "pbkdf2_imported"

    def verify(self, password: str, encoded: str) -> bool:
        try:
            algorithm, digest, iterations, salt, key = encoded.split("$")
            expected = base64.b64decode(key, validate=True)
            derived = hashlib.pbkdf2_hmac(
                digest,
                password.encode(),
                base64.b64decode(salt, validate=True),
                int(iterations),
                dklen=len(expected),
            )
        except (ValueError, binascii.Error):
            return False
        return algorithm == self.algorithm and hmac.compare_digest(derived, expected)


def firebase_scrypt(
    password: bytes, salt: bytes, *, signer_key: bytes, separator: bytes, rounds: int, mem_cost: int
) -> bytes:
    """Firebase's scrypt: a 64-byte scrypt key of the password (salt followed by the project's
    separator, N = 2^mem_cost, r = rounds, p = 1), whose first 32 bytes are the AES-256 key
    that encrypts the project's signer key in CTR mode from a zero counter."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    n = 2**mem_cost
    derived = hashlib.scrypt(
        password, salt=salt + separator, n=n, r=rounds, p=1, dklen=64, maxmem=256 * rounds * n
    )
    encryptor = Cipher(algorithms.AES(derived[:32]), modes.CTR(b"\0" * 16)).encryptor()
    return encryptor.update(signer_key) + encryptor.finalize()


class FirebaseScryptHasher(ImportOnlyHasher):
    """``firebase_scrypt$<rounds>$<mem_cost>$<base64 separator>$<base64 salt>$<base64 hash>``;
    the project's signer key is the setting ``GATEHOUSE_FIREBASE_SCRYPT_SIGNER_KEY``."""

    algorithm = "firebase_scrypt"

    def verify(self, password: str, encoded: str) -> bool:
        signer_key = settings.GATEHOUSE_FIREBASE_SCRYPT_SIGNER_KEY
        if not signer_key:
            return False
        try:
            algorithm, rounds, mem_cost, separator, salt, expected = encoded.split("$")
            derived = firebase_scrypt(
                password.encode(),
                base64.b64decode(salt, validate=True),
                signer_key=base64.b64decode(signer_key, validate=True),
                separator=base64.b64decode(separator, validate=True),
                rounds=int(rounds),
                mem_cost=int(mem_cost),
            )
            wanted = base64.b64decode(expected, validate=True)
        except (ValueError, binascii.Error, MemoryError):
            return False
        return algorithm == self.algorithm and hmac.compare_digest(derived, wanted)


class LegacyCheckHasher(ImportOnlyHasher):
    """``legacy$<base64url of the old system's id for the person>``: no hash was exported, so
    the old system checks the password (``accounts.imports.legacy``). A yes is the last time
    it is asked: Django re-hashes the password at once."""

    algorithm = "legacy"

    def verify(self, password: str, encoded: str) -> bool:
        from accounts.imports.legacy import check_with_old_system

        algorithm, _, subject = encoded.partition("$")
        if algorithm != self.algorithm or not subject:
            return False
        return check_with_old_system(decode_subject(subject), password)

    def safe_summary(self, encoded: str) -> dict[Any, Any]:
        return {"algorithm": self.algorithm, "checked by": "the old system at first sign-in"}


def encode_subject(subject: str) -> str:
    return base64.urlsafe_b64encode(subject.encode()).decode().rstrip("=")


def decode_subject(encoded: str) -> str:
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
