"""Consent in the Django admin.

The privacy officer maintains what people are asked to agree to: purposes (archived, never
deleted) and policy documents with their versions. A version is a draft until someone publishes
it from its page, giving a reason; from then on the admin shows it read-only, like the database
keeps it. Support staff read the evidence: every consent event with its signed receipt, and on
each user's page their current decisions. Nobody changes or deletes evidence here, and the
private half of a receipt key never reaches a page, a form or a URL filter.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from accounts.admin import NoSecretLookupsMixin, ReadOnlyAdminMixin
from accounts.forms import ReasonForm
from consent import services
from consent.models import (
    ConsentEvent,
    DataSubjectRequest,
    PolicyDocument,
    PolicyVersion,
    Purpose,
    ReceiptKey,
)


def _scope(organization: Any) -> str:
    return str(organization) if organization is not None else "Gatehouse-wide"


def _public_page(version: PolicyVersion) -> str:
    return reverse("consent:policy-version", args=[version.document_id, version.pk])


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
        return f"{obj.title} ({_scope(obj.organization)})"


def _documents() -> QuerySet[PolicyDocument]:
    return PolicyDocument.objects.select_related("organization").order_by(
        "organization__name", "title"
    )


# --- Purposes ------------------------------------------------------------------------------------


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
            document.queryset = _documents()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind", self.instance.kind)
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

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Consent history points at its purpose for good: archive it instead.
        return False


# --- Policy documents and versions ---------------------------------------------------------------


class VersionInline(admin.TabularInline):
    """A document's versions, newest first, each linking to its own page."""

    model = PolicyVersion
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("label", "status", "published_at", "requires_reacceptance", "created_at", "public")
    readonly_fields = fields
    ordering = ("-created_at", "-id")

    @admin.display(description="Status")
    def status(self, obj: PolicyVersion) -> str:
        return "Published" if obj.is_published else "Draft"

    @admin.display(description="Public page")
    def public(self, obj: PolicyVersion) -> str:
        if not obj.is_published:
            return "-"
        return format_html('<a href="{}">{}</a>', _public_page(obj), _public_page(obj))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PolicyDocument)
class PolicyDocumentAdmin(NoSecretLookupsMixin, admin.ModelAdmin):
    list_display = ("title", "key", "organization", "created_at")
    list_filter = (ScopeFilter,)
    list_select_related = ("organization",)
    search_fields = ("key", "title")
    show_full_result_count = False
    raw_id_fields = ("organization",)
    fields = ("title", "key", "organization", "created_at", "new_version")
    readonly_fields = ("created_at", "new_version")
    inlines = (VersionInline,)

    @admin.display(description="New version")
    def new_version(self, obj: PolicyDocument) -> str:
        if obj.pk is None:
            return "Save the document first."
        url = reverse("admin:consent_policyversion_add")
        return format_html('<a href="{}?document={}">Write a new draft</a>', url, obj.pk)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        readonly = tuple(self.readonly_fields)
        if obj is not None:
            # Receipts name the document by key; its purposes are in its organization.
            readonly += ("key", "organization")
        return readonly

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.save_catalogue_entry(entry=obj, actor=request.user, changed=form.changed_data)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("draft", "Draft"), ("published", "Published")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[PolicyVersion]
    ) -> QuerySet[PolicyVersion]:
        if self.value() == "draft":
            return queryset.filter(published_at__isnull=True)
        if self.value() == "published":
            return queryset.filter(published_at__isnull=False)
        return queryset


DRAFT_FIELDS = ("label", "content", "url", "change_summary", "requires_reacceptance")
PUBLISHED_FIELDS = (
    "document",
    *DRAFT_FIELDS,
    "status",
    "content_sha256",
    "published_at",
    "public_page",
    "created_at",
    "created_by",
)


def _https_urls(db_field: Any, **kwargs: Any) -> Any:
    """Form fields for a model's fields, with an address typed without a scheme read as https."""
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class VersionForm(forms.ModelForm):
    class Meta:
        model = PolicyVersion
        fields = ("document", *DRAFT_FIELDS)
        formfield_callback = _https_urls
        field_classes = {"document": DocumentChoiceField}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        document = self.fields.get("document")
        if isinstance(document, forms.ModelChoiceField):
            document.queryset = _documents()


@admin.register(PolicyVersion)
class PolicyVersionAdmin(NoSecretLookupsMixin, admin.ModelAdmin):
    """Drafts are written and deleted here; a published version is shown as it was published.

    Publishing is its own step (a button on the draft's page, with a reason), through
    ``consent.services.publish_version``, which hashes the text and audits it.
    """

    form = VersionForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    change_form_template = "admin/consent/policyversion/change_form.html"
    list_display = ("document", "label", "status", "published_at", "requires_reacceptance")
    list_filter = (StatusFilter, "requires_reacceptance", "document")
    list_select_related = ("document",)
    search_fields = ("label", "document__key", "document__title", "=content_sha256")
    show_full_result_count = False

    @admin.display(description="Status")
    def status(self, obj: PolicyVersion) -> str:
        return "Published" if obj.is_published else "Draft"

    @admin.display(description="Public page")
    def public_page(self, obj: PolicyVersion) -> str:
        if not obj.is_published:
            return "Not public until published."
        url = _public_page(obj)
        return format_html('<a href="{}">{}</a>', url, url)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        if obj is None:
            return ["document", *DRAFT_FIELDS]
        if obj.is_published:
            return list(PUBLISHED_FIELDS)
        return ["document", *DRAFT_FIELDS, "status", "created_at", "created_by"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        if obj.is_published:
            return PUBLISHED_FIELDS
        return ("document", "status", "created_at", "created_by")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A published version is never saved again: its page is view-only and a POST gets 403.
        if obj is not None and obj.is_published:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_published:
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[PolicyVersion]) -> None:
        # The bulk delete confirmation already refuses a selection with a published version;
        # this keeps a version published in the meantime out of it as well.
        queryset.filter(published_at__isnull=True).delete()

    def save_model(self, request: HttpRequest, obj: PolicyVersion, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        services.save_catalogue_entry(entry=obj, actor=request.user, changed=form.changed_data)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        version = self.get_object(request, unquote(object_id))
        if version is not None and not version.is_published and self.has_change_permission(request):
            extra_context["publish_form"] = ReasonForm()
            extra_context["publish_url"] = reverse(
                "admin:consent_policyversion_publish", args=[version.pk]
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self) -> list[URLPattern]:  # type: ignore[override]
        publish = path(
            "<path:object_id>/publish/",
            self.admin_site.admin_view(self.publish_view),
            name="consent_policyversion_publish",
        )
        return [publish, *super().get_urls()]

    def publish_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Publish a draft, with a reason. A refusal (already published, no text) comes back
        as a message on the version's page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        version = self.get_object(request, unquote(object_id))
        if version is None:
            self.message_user(request, "No such policy version.", messages.WARNING)
            return HttpResponseRedirect(reverse("admin:consent_policyversion_changelist"))
        if not self.has_change_permission(request):
            raise PermissionDenied
        change_url = reverse("admin:consent_policyversion_change", args=[version.pk])
        form = ReasonForm(request.POST)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": f"Publish “{version.label}”: give a reason",
                "opts": self.opts,
                "original": version,
                "form": form,
                "publish_url": request.path,
                "change_url": change_url,
            }
            return TemplateResponse(request, "admin/consent/policyversion/publish.html", context)
        try:
            published = services.publish_version(
                version=version, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except services.ConsentError as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            self.log_change(request, published, "Published.")
            self.message_user(
                request,
                f"Published “{published.label}” (SHA-256 {published.content_sha256}).",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(change_url)


# --- Evidence: consent events and receipt keys ---------------------------------------------------


EVENT_FIELDS = (
    "public_id",
    "user",
    "purpose",
    "decision",
    "method",
    "version",
    "organization_id",
    "occurred_at",
    "recorded_at",
    "ip",
    "user_agent",
    "actor_text",
    "request_id",
    "receipt_text",
)


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):
    """Consent history, read-only for everyone: events are evidence.

    A user's history is this list filtered by ``?user__id__exact=<pk>`` (the user's page links
    to it); Django allows that lookup because it stays on the user's own key.
    """

    list_display = ("occurred_at", "user_email", "purpose", "decision", "method", "version", "ip")
    list_filter = ("decision", "method", "purpose")
    list_select_related = ("user", "purpose", "version__document")
    search_fields = ("user__email", "=user__public_id")
    show_full_result_count = False
    list_per_page = 50
    fields = EVENT_FIELDS
    readonly_fields = EVENT_FIELDS

    @admin.display(description="User")
    def user_email(self, obj: ConsentEvent) -> str:
        return obj.user.email

    @admin.display(description="Receipt (compact JWS, as issued)")
    def receipt_text(self, obj: ConsentEvent) -> str:
        return format_html(
            '<pre style="white-space: pre-wrap; word-break: break-all; margin: 0">{}</pre>',
            obj.receipt,
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConsentEvent]:
        return super().get_queryset(request).select_related("user", "purpose", "version__document")


RECEIPT_KEY_FIELDS = ("kid", "algorithm", "status", "created_at", "retired_at", "public_jwk")


@admin.register(ReceiptKey)
class ReceiptKeyAdmin(ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):
    """Which keys sign receipts, and since when. Only the public half is ever shown: the
    encrypted private key is not loaded, listed, displayed or filterable."""

    secret_fields = frozenset({"private_key_encrypted"})
    list_display = ("kid", "algorithm", "status", "created_at", "retired_at")
    list_filter = ("status",)
    search_fields = ("=kid",)
    show_full_result_count = False
    fields = RECEIPT_KEY_FIELDS
    readonly_fields = RECEIPT_KEY_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReceiptKey]:
        return super().get_queryset(request).defer("private_key_encrypted")


REQUEST_FIELDS = (
    "public_id",
    "user_link",
    "kind",
    "status",
    "via",
    "requested_at",
    "scheduled_for",
    "started_at",
    "cancelled_at",
    "completed_at",
    "download_expires_at",
    "downloaded_at",
    "attempts",
    "last_error",
    "pseudonym",
)


@admin.register(DataSubjectRequest)
class DataSubjectRequestAdmin(ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):
    """Export and erasure requests, read-only: support staff answer "where is my export?" and
    "when will my account be deleted?" here, and a request on hold shows why. The download
    token's hash and the identifiers an erasure is working through are never shown or
    filterable. A user's requests are ``?user__id__exact=<pk>`` (linked from the user's page)."""

    secret_fields = frozenset({"download_token_hash", "identifiers"})
    list_display = ("requested_at", "user_email", "kind", "status", "via", "scheduled_for")
    list_filter = ("kind", "status", "via")
    list_select_related = ("user",)
    search_fields = ("user__email", "=user__public_id", "=public_id", "=pseudonym")
    show_full_result_count = False
    list_per_page = 50
    fields = REQUEST_FIELDS
    readonly_fields = REQUEST_FIELDS

    @admin.display(description="User")
    def user_email(self, obj: DataSubjectRequest) -> str:
        return obj.user.email

    @admin.display(description="User")
    def user_link(self, obj: DataSubjectRequest) -> str:
        url = reverse("admin:accounts_user_change", args=[obj.user_id])
        return format_html('<a href="{}">{}</a>', url, obj.user.email)

    def get_queryset(self, request: HttpRequest) -> QuerySet[DataSubjectRequest]:
        return super().get_queryset(request).select_related("user").defer("identifiers")
