"""Profile fields for the progressive-profiling tests."""

from __future__ import annotations

from typing import Any

from accounts.profiling.models import ProfileField


def field(key: str, kind: str = "text", **changes: Any) -> ProfileField:
    """A declared profile field, checked as the admin checks it."""
    values: dict[str, Any] = {
        "key": key,
        "label": key.replace("_", " ").capitalize(),
        "kind": kind,
        "ask_when": ProfileField.When.SIGNUP,
        **changes,
    }
    declared = ProfileField(**values)
    declared.full_clean()
    declared.save()
    return declared
