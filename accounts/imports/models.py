"""What an import remembers about the people it brought in."""

from __future__ import annotations

import hashlib
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


def hash_digest(encoded: str) -> str:
    """A fingerprint of a stored password hash: enough to tell whether it is still the one an
    import set, without keeping a second copy of the hash."""
    return hashlib.sha256(encoded.encode()).hexdigest()


class ImportedIdentity(models.Model):
    """A person as another system knew them: the system (``source``, named by the operator at
    import) and its id for them. A second run of the same file finds the person by this id
    (or by address when the file has no ids) and updates them instead of adding anyone."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="imported_identities"
    )
    source = models.CharField(max_length=64)
    external_id = models.CharField(max_length=255, blank=True)
    # The SHA-256 of the password hash the last import set (blank: it set none). While the
    # person's hash is still that one, a new import may replace it; once they have changed or
    # signed in (which re-hashes it), imports leave their password alone.
    password_digest = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="imported_identity_external_id_unique",
            ),
            models.UniqueConstraint(fields=["source", "user"], name="imported_identity_per_user"),
        ]
        verbose_name_plural = "imported identities"

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id or '(by address)'}"
