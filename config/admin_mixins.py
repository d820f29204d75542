"""Building blocks every app's admin pages share."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class NoSecretLookupsMixin:
    """Django admin accepts filters on any field through the URL (``?password__startswith=``),
    hidden or not. Fields holding secrets must not be filterable: a staff member could rebuild
    a value one character at a time."""

    secret_fields: frozenset[str] = frozenset()

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        if lookup.split("__", 1)[0] in self.secret_fields:
            return False
        return super().lookup_allowed(lookup, value, request)  # type: ignore[misc]


class ReadOnlyAdminMixin:
    """For records staff read and never change here: the log, evidence, keys, requests, and
    what is managed through its own pages (organizations, SSO connections)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
