"""A column that stores a secret's SHA-256 and matches by it, so DOT's own queries
(``Grant.objects.get(code=...)``) find hashed rows without being told."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import models


class Digest(str):
    """A value read back from a hashed column: already a digest, so never hashed again.

    A type, not a textual prefix: a digest copied out of the database and presented as a code
    is a plain ``str`` and gets hashed like any other guess."""


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class HashedSecretField(models.CharField):
    """Stores ``sha256(value)``; a plain string given to a query or a save is hashed first."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        super().__init__(*args, **kwargs)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "" or isinstance(value, Digest):
            return value
        return digest(value)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return None if value is None else Digest(value)

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = getattr(model_instance, self.attname)
        if value and not isinstance(value, Digest):
            value = Digest(digest(value))
            setattr(model_instance, self.attname, value)
        return value
