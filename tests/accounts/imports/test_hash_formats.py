"""Each password format an import accepts verifies the person's own password at their first
sign-in through the login page, and that sign-in replaces the imported hash with Gatehouse's
Argon2id. The import-only hashers never make a hash."""

from __future__ import annotations

import base64
import hashlib
import os

import argon2
import bcrypt
import pytest
from django.conf import settings
from django.contrib.auth.hashers import get_hasher, make_password

from accounts.imports.hashers import (
    FirebaseScryptHasher,
    ImportedBcryptHasher,
    ImportedPBKDF2Hasher,
    LegacyCheckHasher,
    firebase_scrypt,
)
from accounts.models import User
from tests.accounts.imports.helpers import GATEHOUSE_HASH, run, sign_in, signed_in

PASSWORD = "user1password"
# Firebase's published example (github.com/firebase/scrypt, README): the project's
# parameters, one exported account's salt, and the hash of "user1password".
FIREBASE_SIGNER_KEY = (
    "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
)
FIREBASE_SALT = "42xEC+ixf3L2lw=="
FIREBASE_HASH = (
    "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="
)


def test_firebase_scrypt_gives_firebases_published_hash():
    derived = firebase_scrypt(
        PASSWORD.encode(),
        base64.b64decode(FIREBASE_SALT),
        signer_key=base64.b64decode(FIREBASE_SIGNER_KEY),
        separator=base64.b64decode("Bw=="),
        rounds=8,
        mem_cost=14,
    )
    assert base64.b64encode(derived).decode() == FIREBASE_HASH


def _bcrypt(prefix: str) -> dict:
    raw = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    return {"format": "bcrypt", "hash": prefix + raw[3:]}


def _keycloak() -> dict:
    salt = os.urandom(16)
    value = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt, 27500, dklen=64)
    # As Keycloak's realm export writes a credential: two JSON texts.
    return {
        "format": "keycloak",
        "credential": {
            "type": "password",
            "secretData": (
                f'{{"value":"{base64.b64encode(value).decode()}",'
                f'"salt":"{base64.b64encode(salt).decode()}","additionalParameters":{{}}}}'
            ),
            "credentialData": (
                '{"hashIterations":27500,"algorithm":"pbkdf2-sha256","additionalParameters":{}}'
            ),
        },
    }


def _pbkdf2_sha512() -> dict:
    salt = os.urandom(16)
    value = hashlib.pbkdf2_hmac("sha512", PASSWORD.encode(), salt, 1000, dklen=64)
    return {
        "format": "pbkdf2",
        "algorithm": "pbkdf2-sha512",
        "iterations": 1000,
        "salt": base64.b64encode(salt).decode(),
        "hash": base64.b64encode(value).decode(),
    }


def _argon2(kind: argon2.Type) -> dict:
    hasher = argon2.PasswordHasher(time_cost=3, memory_cost=8192, parallelism=2, type=kind)
    return {"format": "argon2", "hash": hasher.hash(PASSWORD)}


FORMATS = {
    "bcrypt $2a$ (Auth0)": lambda: _bcrypt("$2a"),
    "bcrypt $2b$": lambda: _bcrypt("$2b"),
    "bcrypt $2y$ (PHP)": lambda: _bcrypt("$2y"),
    "Keycloak PBKDF2-SHA256 credential": _keycloak,
    "PBKDF2-SHA512": _pbkdf2_sha512,
    "Django pbkdf2_sha256": lambda: {
        "format": "django",
        "hash": make_password(PASSWORD, hasher="pbkdf2_sha256"),
    },
    "Firebase scrypt": lambda: {
        "format": "firebase_scrypt",
        "hash": FIREBASE_HASH,
        "salt": FIREBASE_SALT,
    },
    "Argon2id": lambda: _argon2(argon2.Type.ID),
    "Argon2i": lambda: _argon2(argon2.Type.I),
}


@pytest.fixture(autouse=True)
def _firebase_project(settings):
    settings.GATEHOUSE_FIREBASE_SCRYPT_SIGNER_KEY = FIREBASE_SIGNER_KEY


@pytest.mark.parametrize("name", list(FORMATS))
def test_imported_hash_signs_in_and_becomes_argon2id(name):
    email = "moved@example.com"
    report = run([{"email": email, "email_verified": True, "password": FORMATS[name]()}])
    assert report.created == 1, report.errors
    imported = User.objects.get(email=email).password
    assert not imported.startswith(GATEHOUSE_HASH)

    client, response = sign_in(email, "not " + PASSWORD)
    assert response.status_code == 200
    assert not signed_in(client)
    assert User.objects.get(email=email).password == imported  # a wrong one changes nothing

    client, response = sign_in(email, PASSWORD)
    assert response.status_code == 302, response.content[:500]
    assert signed_in(client)
    upgraded = User.objects.get(email=email).password
    assert upgraded.startswith(GATEHOUSE_HASH)
    # And the new hash is the password's: the next sign-in verifies it with Argon2id.
    client, response = sign_in(email, PASSWORD)
    assert signed_in(client)
    assert User.objects.get(email=email).password == upgraded


def test_bcrypt_ignores_what_follows_the_72nd_byte_as_the_old_system_did():
    long_password = "x" * 72
    raw = bcrypt.hashpw(long_password.encode(), bcrypt.gensalt(4)).decode()
    run(
        [
            {
                "email": "long@example.com",
                "email_verified": True,
                "password": {"format": "bcrypt", "hash": raw},
            }
        ]
    )
    client, _ = sign_in("long@example.com", long_password + "anything after")
    assert signed_in(client)


def test_gatehouse_hashes_new_passwords_with_argon2id_only():
    assert settings.PASSWORD_HASHERS[0] == "accounts.hashers.GatehouseArgon2Hasher"
    assert make_password("a new password").startswith(GATEHOUSE_HASH)
    for hasher in (
        ImportedBcryptHasher(),
        ImportedPBKDF2Hasher(),
        FirebaseScryptHasher(),
        LegacyCheckHasher(),
    ):
        assert get_hasher(hasher.algorithm).__class__ is hasher.__class__
        with pytest.raises(NotImplementedError):
            hasher.encode("a new password", "salt")
        with pytest.raises(NotImplementedError):
            make_password("a new password", hasher=hasher.algorithm)


def test_firebase_hash_without_the_signer_key_refuses_rather_than_accepts(settings):
    run(
        [
            {
                "email": "fb@example.com",
                "email_verified": True,
                "password": FORMATS["Firebase scrypt"](),
            }
        ]
    )
    settings.GATEHOUSE_FIREBASE_SCRYPT_SIGNER_KEY = ""
    client, _ = sign_in("fb@example.com", PASSWORD)
    assert not signed_in(client)


@pytest.mark.parametrize(
    ("password", "field"),
    [
        ({"format": "bcrypt", "hash": "$2b$10$tooshort"}, "password.hash"),
        ({"format": "md5", "hash": "abc"}, "password.format"),
        (
            {"format": "argon2", "hash": "$argon2id$v=19$m=99999999,t=2,p=1$c2FsdA$aGFzaA"},
            "password.hash",
        ),
        (
            {"format": "pbkdf2", "iterations": 0, "salt": "c2FsdA==", "hash": "aGFzaA=="},
            "password.iterations",
        ),
        (
            {"format": "pbkdf2", "iterations": 10, "salt": "not base64!", "hash": "aGFzaA=="},
            "password.salt",
        ),
        (
            {"format": "keycloak", "credential": {"secretData": "{", "credentialData": "{}"}},
            "password.credential.secretData",
        ),
        ({"format": "django", "hash": "legacy$c29tZW9uZQ"}, "password.hash"),
        ({"format": "legacy"}, "password.format"),  # no LEGACY_PASSWORD_CHECK_URL here
    ],
)
def test_a_bad_hash_refuses_its_row_and_names_the_field(password, field):
    report = run([{"email": "bad@example.com", "password": password}])
    [error] = report.errors
    assert (error.line, error.field) == (1, field)
    assert not User.objects.filter(email="bad@example.com").exists()
