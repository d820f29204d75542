"""Purposes in the admin: what people are asked to agree to. Archived, never deleted: consent
history points at its purpose for good."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from accounts.admin import NoSecretLookupsMixin
from consent import services
from consent.admin.scope import DocumentChoiceField, ScopeFilter, documents
from consent.models import Purpose


class PurposeForm(forms.ModelForm):
    """Checks that span fields: what the database cannot say on its own."""

    class Meta:
        model = Purpose
        fields = (
            "key",
            "name",
            "description",
            "organization",
            "kind",
            "lawful_basis",
            "required",
            "offered_at_signup",
            "document",
            "archived",
        )
        field_classes = {"document": DocumentChoiceField}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        document = self.fields.get("document")
        if isinstance(document, forms.ModelChoiceField):
            document.queryset = documents()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind", self.instance.kind)
        if kind == Purpose.Kind.OAUTH_APP:
            # Made by Gatehouse when a person first allows an app; recorded only by it.
            self.add_error("kind", "Apps' purposes are made when someone first allows the app.")
        if kind == Purpose.Kind.OPT_OUT and data.get("required"):
            # "Granted" on an opt-out means the person opted out; requiring that makes no sense.
            self.add_error("required", "An opt-out purpose cannot be required.")
        if "organization" in self.fields:
            organization = data.get("organization")
        else:  # fixed once created (see PurposeAdmin.get_readonly_fields)
            organization = self.instance.organization
        document = data.get("document")
        if document is not None and document.organization_id != getattr(organization, "pk", None):
            self.add_error(
                "document",
                "The document must belong to the same organization as the purpose "
                "(or both be Gatehouse-wide).",
            )
        return data


@admin.register(Purpose)
class PurposeAdmin(NoSecretLookupsMixin, admin.ModelAdmin):
    form = PurposeForm
    list_display = (
        "key",
        "name",
        "organization",
        "required",
        "kind",
        "lawful_basis",
        "document",
        "archived",
    )
    list_filter = ("archived", "required", "kind", "lawful_basis", ScopeFilter)
    list_select_related = ("organization", "document")
    search_fields = ("key", "name")
    show_full_result_count = False
    raw_id_fields = ("organization",)
    fieldsets = (
        (None, {"fields": ("key", "name", "description", "organization", "public_id")}),
        (
            "How it is asked",
            {
                "fields": (
                    "kind",
                    "lawful_basis",
                    "required",
                    "offered_at_signup",
                    "document",
                    "archived",
                )
            },
        ),
        (
            "In force",
            {
                "fields": ("binding_version", "binding_published_at", "created_at"),
                "description": "Set when a version of the document is published: the version "
                "everyone must have accepted.",
            },
        ),
    )
    readonly_fields = ("public_id", "binding_version", "binding_published_at", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        readonly = tuple(self.readonly_fields)
        if obj is not None:
            # Receipts, the API and the "do not sell" check name a purpose by its key, and its
            # events were recorded in its organization: both stay as they were created.
            readonly += ("key", "organization")
        return readonly

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.save_catalogue_entry(entry=obj, actor=request.user, changed=form.changed_data)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # An app's purpose follows the app (consent.app_access): making it required, say,
        # would hold everyone who once allowed the app at the re-acceptance gate.
        if obj is not None and obj.kind == Purpose.Kind.OAUTH_APP:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Consent history points at its purpose for good: archive it instead.
        return False
