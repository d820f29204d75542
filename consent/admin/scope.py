"""Whose a catalogue entry is, in the admin: Gatehouse-wide or an organization's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from consent.models import PolicyDocument


def scope_label(organization: Any) -> str:
    return str(organization) if organization is not None else "Gatehouse-wide"


class ScopeFilter(admin.SimpleListFilter):
    """Gatehouse-wide or an organization's: a list of every organization would not scale."""

    title = "scope"
    parameter_name = "scope"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("global", "Gatehouse-wide"), ("org", "An organization's")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "global":
            return queryset.filter(organization__isnull=True)
        if self.value() == "org":
            return queryset.filter(organization__isnull=False)
        return queryset


class DocumentChoiceField(forms.ModelChoiceField):
    """Documents of different organizations may share a title: each says whose it is."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.title} ({scope_label(obj.organization)})"


def documents() -> QuerySet[PolicyDocument]:
    return PolicyDocument.objects.select_related("organization").order_by(
        "organization__name", "title"
    )
