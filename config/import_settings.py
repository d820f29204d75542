"""Importing people from another system (accounts/imports/, docs/import.md). Imported by name
into config/settings.py."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from config.env import env_int, env_str

# Firebase Authentication's scrypt parameters, from the project's "Password hash parameters"
# (Authentication > Users > ⋮). The signer key stays secret: it verifies every imported
# Firebase hash, at each person's first sign-in. The others are written into each imported
# hash, so changing them later does not break hashes imported before.
GATEHOUSE_FIREBASE_SCRYPT_SIGNER_KEY = env_str("FIREBASE_SCRYPT_SIGNER_KEY")
GATEHOUSE_FIREBASE_SCRYPT_SALT_SEPARATOR = env_str("FIREBASE_SCRYPT_SALT_SEPARATOR", "Bw==")
GATEHOUSE_FIREBASE_SCRYPT_ROUNDS = env_int("FIREBASE_SCRYPT_ROUNDS", 8)
GATEHOUSE_FIREBASE_SCRYPT_MEM_COST = env_int("FIREBASE_SCRYPT_MEM_COST", 14)
if not 1 <= GATEHOUSE_FIREBASE_SCRYPT_ROUNDS <= 8:
    raise ImproperlyConfigured("FIREBASE_SCRYPT_ROUNDS must be from 1 to 8.")
if not 1 <= GATEHOUSE_FIREBASE_SCRYPT_MEM_COST <= 15:
    raise ImproperlyConfigured("FIREBASE_SCRYPT_MEM_COST must be from 1 to 15.")

# Lazy migration: the old system's endpoint that checks a password at an imported person's
# first sign-in (accounts/imports/legacy.py), the bearer token it expects, and how long to wait.
GATEHOUSE_LEGACY_PASSWORD_CHECK_URL = env_str("LEGACY_PASSWORD_CHECK_URL")
GATEHOUSE_LEGACY_PASSWORD_CHECK_TOKEN = env_str("LEGACY_PASSWORD_CHECK_TOKEN")
GATEHOUSE_LEGACY_PASSWORD_CHECK_TIMEOUT_MS = env_int("LEGACY_PASSWORD_CHECK_TIMEOUT_MS", 3000)

# The management API's import (POST /api/v1/users/import): at most this many people per call
# (done while the caller waits) and a body of at most this many bytes. Larger files go through
# `manage.py import_users`.
GATEHOUSE_IMPORT_API_MAX_ROWS = env_int("IMPORT_API_MAX_ROWS", 1000)
GATEHOUSE_IMPORT_API_MAX_BODY_BYTES = env_int("IMPORT_API_MAX_BODY_BYTES", 2 * 1024 * 1024)
