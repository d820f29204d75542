"""A row's password, as the other system exported it, into the hash Gatehouse stores.

Each source format becomes a Django-encoded hash that one of ``PASSWORD_HASHERS`` verifies
(accounts/imports/hashers.py for the formats Django has no hasher for). Shapes are checked
here, at import, so that a bad hash is a clear error on its row rather than a person who can
never sign in; costs are bounded, so that an imported hash cannot make a sign-in hang.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import identify_hasher

from accounts.imports.hashers import PBKDF2_DIGESTS, encode_subject

FORMATS = ("bcrypt", "argon2", "django", "pbkdf2", "keycloak", "firebase_scrypt", "legacy")
MAX_PBKDF2_ITERATIONS = 10_000_000
MAX_ARGON2_MEMORY_KIB = 1024 * 1024
_BCRYPT = re.compile(r"^\$2[aby]\$(0[4-9]|1[0-9]|2[0-9]|3[01])\$[./A-Za-z0-9]{53}$")
_ARGON2 = re.compile(
    r"^\$argon2(id|i|d)\$v=(16|19)\$m=(\d{1,8}),t=(\d{1,4}),p=(\d{1,3})"
    r"\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$"
)
# Django's own formats an import may carry as they are: hashers listed in PASSWORD_HASHERS
# that make real hashes (not the import-only ones, whose forms are built here).
_DJANGO_ALGORITHMS = {"argon2", "pbkdf2_sha256", "pbkdf2_sha1", "bcrypt_sha256", "bcrypt"}
_KEYCLOAK_ALGORITHMS = {"pbkdf2": "sha1", "pbkdf2-sha256": "sha256", "pbkdf2-sha512": "sha512"}


class PasswordProblem(ValueError):
    """What is wrong with a row's password: ``field`` names the part (``password.hash``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def stored_hash(spec: Mapping[str, Any], *, subject: str) -> str:
    """The hash to store for ``spec`` (the row's ``password`` object). ``subject`` is what the
    old system knows the person by, for a ``legacy`` password."""
    kind = spec.get("format")
    if kind not in FORMATS:
        raise PasswordProblem("password.format", f"Give one of: {', '.join(FORMATS)}.")
    if kind == "legacy":
        if not settings.GATEHOUSE_LEGACY_PASSWORD_CHECK_URL:
            raise PasswordProblem(
                "password.format", "Lazy migration needs LEGACY_PASSWORD_CHECK_URL to be set."
            )
        return f"legacy${encode_subject(subject)}"
    if kind == "keycloak":
        return _keycloak(spec.get("credential"))
    if kind == "pbkdf2":
        return _pbkdf2(
            spec.get("algorithm", "pbkdf2-sha256"),
            spec.get("iterations"),
            spec.get("salt"),
            spec.get("hash"),
        )
    value = _text(spec.get("hash"), "password.hash")
    if kind == "bcrypt":
        if not _BCRYPT.match(value):
            raise PasswordProblem("password.hash", "Not a bcrypt hash ($2a$, $2b$ or $2y$).")
        return f"bcrypt${value}"
    if kind == "argon2":
        return f"argon2{_argon2(value)}"
    if kind == "firebase_scrypt":
        return _firebase(value, spec.get("salt"))
    return _django(value)


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PasswordProblem(field, "Missing.")
    return value.strip()


def _base64(value: Any, field: str) -> str:
    text = _text(value, field)
    try:
        if not base64.b64decode(text, validate=True):
            raise PasswordProblem(field, "Empty.")
    except (binascii.Error, ValueError):
        raise PasswordProblem(field, "Not base64.") from None
    return text


def _argon2(value: str) -> str:
    match = _ARGON2.match(value)
    if not match:
        raise PasswordProblem("password.hash", "Not an Argon2 hash ($argon2id$v=19$m=...).")
    if int(match.group(3)) > MAX_ARGON2_MEMORY_KIB:
        raise PasswordProblem("password.hash", "Argon2 memory above 1 GiB.")
    return value


def _pbkdf2(algorithm: Any, iterations: Any, salt: Any, key: Any) -> str:
    digest = _KEYCLOAK_ALGORITHMS.get(algorithm) if isinstance(algorithm, str) else None
    if digest is None or digest not in PBKDF2_DIGESTS:
        choices = ", ".join(_KEYCLOAK_ALGORITHMS)
        raise PasswordProblem("password.algorithm", f"Give one of: {choices}.")
    if isinstance(iterations, str) and iterations.isdigit():
        iterations = int(iterations)
    if (
        not isinstance(iterations, int)
        or isinstance(iterations, bool)
        or not 1 <= iterations <= MAX_PBKDF2_ITERATIONS
    ):
        raise PasswordProblem(
            "password.iterations", f"Give a whole number from 1 to {MAX_PBKDF2_ITERATIONS}."
        )
    salt = _base64(salt, "password.salt")
    key = _base64(key, "password.hash")
    return f"pbkdf2_imported${digest}${iterations}${salt}${key}"


def _keycloak(credential: Any) -> str:
    """A credential as Keycloak's realm export writes it: ``secretData`` (value, salt) and
    ``credentialData`` (hashIterations, algorithm), each a JSON text or an object."""
    if not isinstance(credential, Mapping):
        raise PasswordProblem("password.credential", "Give Keycloak's credential object.")
    parts = []
    for name in ("secretData", "credentialData"):
        part = credential.get(name)
        if isinstance(part, str):
            try:
                part = json.loads(part)
            except ValueError:
                raise PasswordProblem(f"password.credential.{name}", "Not JSON.") from None
        if not isinstance(part, Mapping):
            raise PasswordProblem(f"password.credential.{name}", "Missing.")
        parts.append(part)
    secret, data = parts
    return _pbkdf2(
        data.get("algorithm"), data.get("hashIterations"), secret.get("salt"), secret.get("value")
    )


def _firebase(value: str, salt: Any) -> str:
    if not settings.GATEHOUSE_FIREBASE_SCRYPT_SIGNER_KEY:
        raise PasswordProblem(
            "password.format", "Firebase hashes need FIREBASE_SCRYPT_SIGNER_KEY to be set."
        )
    key = _base64(value, "password.hash")
    salt = _base64(salt, "password.salt")
    separator = settings.GATEHOUSE_FIREBASE_SCRYPT_SALT_SEPARATOR
    rounds = settings.GATEHOUSE_FIREBASE_SCRYPT_ROUNDS
    mem_cost = settings.GATEHOUSE_FIREBASE_SCRYPT_MEM_COST
    return f"firebase_scrypt${rounds}${mem_cost}${separator}${salt}${key}"


def _django(value: str) -> str:
    try:
        hasher = identify_hasher(value)
    except ValueError:
        hasher = None
    if hasher is None or hasher.algorithm not in _DJANGO_ALGORITHMS:
        raise PasswordProblem(
            "password.hash", "Not a Django hash Gatehouse verifies (pbkdf2_sha256$..., argon2$...)."
        )
    if hasher.algorithm.startswith("pbkdf2"):
        parts = value.split("$")
        if len(parts) != 4 or not parts[1].isdigit() or int(parts[1]) > MAX_PBKDF2_ITERATIONS:
            raise PasswordProblem("password.hash", "Not a PBKDF2 hash with a sane iteration count.")
    if hasher.algorithm == "argon2":
        _argon2(value[len("argon2") :])
    return value
