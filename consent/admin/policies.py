"""Policy documents and their versions in the admin. A version is a draft until someone
publishes it from its page, giving a reason; from then on the admin shows it read-only, like the
database keeps it."""

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

from accounts.admin import NoSecretLookupsMixin
from accounts.forms import ReasonForm
from config.refusals import Refusal, admin_refusal
from consent import services
from consent.admin.scope import DocumentChoiceField, ScopeFilter, documents
from consent.models import PolicyDocument, PolicyVersion


def public_page(version: PolicyVersion) -> str:
    return reverse("consent:policy-version", args=[version.document_id, version.pk])


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
        return format_html('<a href="{}">{}</a>', public_page(obj), public_page(obj))

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
            document.queryset = documents()


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
        url = public_page(obj)
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
        except Refusal as refusal:
            admin_refusal(self, request, refusal)
        else:
            self.log_change(request, published, "Published.")
            self.message_user(
                request,
                f"Published “{published.label}” (SHA-256 {published.content_sha256}).",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(change_url)
