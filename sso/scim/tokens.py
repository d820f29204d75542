"""The bearer tokens a directory calls ``/scim/v2/`` with.

A token reads ``gh_scim_<prefix>_<secret>``. The prefix (12 random characters) finds the row in
one indexed query; the secret (256 random bits) is checked against a keyed HMAC digest in
constant time (``config.secrets``, under its own purpose, so that no OAuth client secret's digest
can stand for a SCIM token). The organization is the token's directory's: nothing in the URL or
the body can name another.
"""

from __future__ import annotations

import secrets as random
import string
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from config import secrets
from sso.scim.models import Directory, DirectoryToken

PURPOSE = "scim-token"
SCHEME = "gh_scim_"
PREFIX_LENGTH = 12
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
# last_used_at is written at most this often, so a busy directory does not write on every call.
LAST_USED_RESOLUTION = timedelta(minutes=5)


@dataclass(frozen=True)
class Caller:
    """Who is calling: a usable token of a directory that is on (active or paused)."""

    token: DirectoryToken
    directory: Directory


def new_token(directory: Directory, *, created_by: Any = None) -> tuple[DirectoryToken, str]:
    """A new token row for ``directory`` (in the caller's transaction) and the token itself,
    which is shown once and never stored."""
    prefix = "".join(random.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    secret = secrets.new_secret()
    stored = secrets.digest_of(secret, purpose=PURPOSE)
    row = DirectoryToken.objects.create(
        directory=directory,
        prefix=prefix,
        key_id=stored.key_id,
        digest=stored.digest,
        created_by=created_by if getattr(created_by, "is_authenticated", False) else None,
    )
    return row, f"{SCHEME}{prefix}_{secret}"


def split(token: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed token, else None."""
    if not token.startswith(SCHEME):
        return None
    prefix, sep, secret = token[len(SCHEME) :].partition("_")
    if not sep or len(prefix) != PREFIX_LENGTH or not secret:
        return None
    return prefix, secret


def authenticate(authorization: str) -> Caller | None:
    """The caller an ``Authorization: Bearer`` header names, or None: a malformed header, an
    unknown prefix, a wrong secret, a revoked or expired token and a directory that is off all
    look the same to the caller."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    parts = split(token.strip())
    if parts is None:
        return None
    prefix, secret = parts
    row = (
        DirectoryToken.objects.select_related("directory__organization")
        .filter(prefix=prefix)
        .first()
    )
    if row is None or not secrets.matches(
        secret, key_id=row.key_id, digest=row.digest, purpose=PURPOSE
    ):
        return None
    now = timezone.now()
    if not row.usable(now) or row.directory.status == Directory.Status.OFF:
        return None
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        DirectoryToken.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return Caller(token=row, directory=row.directory)
