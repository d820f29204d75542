"""Applications in the admin: registered and changed through the application services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache

from config.admin_mixins import NoSecretLookupsMixin
from config.admin_scale import ScaledAdminMixin
from config.refusals import Refusal
from provider.admin.common import APP_SECRET_FIELDS, ServiceSavesMixin, reasoned_action, secret_page
from provider.forms import (
    AdminReasonForm,
    NewApplicationForm,
    api_permission_choices,
    chosen_api_permissions,
)
from provider.models import ApiAccess, Application
from provider.models.applications import CONFIDENTIAL_KINDS
from provider.services import applications as app_services
from provider.services.applications import OIDC_SCOPES
from provider.services.org_applications import OVERLAPS


def _rotate(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    form: AdminReasonForm,
) -> HttpResponse | None:
    apps = list(queryset[:2])
    if len(apps) != 1:
        raise Refusal("Rotate one application's secret at a time: each new secret is shown once.")
    overlap = OVERLAPS.get(form.cleaned_data.get("overlap") or "24h", OVERLAPS["24h"])
    secret = app_services.rotate_client_secret(
        actor=request.user,
        application=apps[0],
        overlap=overlap,
        reason=form.cleaned_data["reason"],
    )
    return secret_page(model_admin, request, apps[0], secret, title="A new client secret")


def _switcher(disabled: bool) -> Callable[..., None]:
    def perform(
        model_admin: admin.ModelAdmin[Any],
        request: HttpRequest,
        queryset: QuerySet[Any],
        form: AdminReasonForm,
    ) -> None:
        done = 0
        for app in queryset.filter(disabled_at__isnull=disabled):
            app_services.set_disabled(
                actor=request.user,
                application=app,
                disabled=disabled,
                reason=form.cleaned_data["reason"],
            )
            done += 1
        verb = "Turned off" if disabled else "Turned on"
        model_admin.message_user(request, f"{verb}: {done} application(s).", messages.SUCCESS)

    return perform


rotate_secret = reasoned_action(
    name="rotate_secret", verb="rotate the client secret", perform=_rotate, overlap=True
)
disable_applications = reasoned_action(
    name="disable_applications", verb="turn off", perform=_switcher(True)
)
enable_applications = reasoned_action(
    name="enable_applications", verb="turn on", perform=_switcher(False)
)


class ApplicationChangeForm(ModelForm):  # type: ignore[type-arg]
    """What staff may change. The redirect URIs are checked here with the service's own rule
    (so a wrong one is shown on its field), and again by ``update_application``."""

    allowed_scopes = forms.MultipleChoiceField(
        required=False,
        choices=[(scope, scope) for scope in OIDC_SCOPES],
        widget=forms.CheckboxSelectMultiple,
        help_text="OpenID scopes the app may ask for (openid is always allowed).",
    )
    logo_url = forms.URLField(required=False, assume_scheme="https", max_length=500)
    backchannel_logout_uri = forms.URLField(required=False, assume_scheme="https", max_length=500)

    api_permissions = forms.MultipleChoiceField(
        label="API permissions",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="What it may ask tokens for, API by API.",
    )

    class Meta:
        model = Application
        fields = list(app_services.UPDATABLE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["api_permissions"]).choices = api_permission_choices()
        if self.instance.pk:
            self.initial["api_permissions"] = [
                f"{access.api_id}:{scope}"
                for access in ApiAccess.objects.filter(application=self.instance)
                for scope in access.scopes
            ]

    def _uris(self, field: str) -> str:
        value = self.cleaned_data.get(field) or ""
        kind = self.instance.kind
        try:
            return " ".join(
                app_services.check_redirect_uri(kind, uri) for uri in str(value).split()
            )
        except Refusal as refusal:
            raise ValidationError(refusal.message) from None

    def clean_redirect_uris(self) -> str:
        return self._uris("redirect_uris")

    def clean_post_logout_redirect_uris(self) -> str:
        return self._uris("post_logout_redirect_uris")


class ApiAccessInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ApiAccess
    fields = ("api", "scopes")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Application)
class ApplicationAdmin(ServiceSavesMixin, ScaledAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):  # type: ignore[type-arg,misc]
    secret_fields = APP_SECRET_FIELDS
    form = ApplicationChangeForm
    list_display = ("name", "kind", "client_id", "organization", "first_party", "enabled")
    list_filter = ("kind", "first_party", ("disabled_at", admin.EmptyFieldListFilter))
    list_select_related = ("organization",)
    search_fields = ("=client_id",)
    search_help_text = "A client id (exact)."
    search_exact_fields = ("client_id",)
    ordering = ("-id",)
    sortable_by = ()
    actions = [rotate_secret, disable_applications, enable_applications]
    inlines = (ApiAccessInline,)
    readonly_fields = (
        "client_id",
        "kind",
        "organization",
        "algorithm",
        "secret_state",
        "disabled_at",
        "created_by",
        "created",
        "updated",
    )
    fieldsets = (
        (None, {"fields": ("name", "client_id", "kind", "organization", "first_party")}),
        (
            "Sign-in",
            {
                "fields": (
                    "redirect_uris",
                    "post_logout_redirect_uris",
                    "allowed_scopes",
                    "backchannel_logout_uri",
                    "algorithm",
                )
            },
        ),
        ("APIs", {"fields": ("api_permissions",)}),
        ("Consent screen", {"fields": ("logo_url", "description")}),
        (
            "State",
            {"fields": ("secret_state", "disabled_at", "created_by", "created", "updated")},
        ),
    )

    @admin.display(description="On", boolean=True)
    def enabled(self, obj: Application) -> bool:
        return obj.disabled_at is None

    @admin.display(description="Client secret")
    def secret_state(self, obj: Application) -> str:
        if obj.kind not in CONFIDENTIAL_KINDS:
            return "None: a public client proves itself with PKCE."
        text = "Stored as a keyed hash; shown only when it was made."
        if obj.secret_rotated_at:
            text += f" Rotated {obj.secret_rotated_at:%Y-%m-%d %H:%M} UTC."
        if obj.previous_secret_expires_at:
            text += (
                f" The previous secret works until {obj.previous_secret_expires_at:%Y-%m-%d %H:%M}"
                " UTC."
            )
        return text

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # turn an app off instead: its audit trail and tokens' history stay

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        return never_cache(self._add_view)(request)

    def _add_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            return HttpResponse(status=403)
        form = NewApplicationForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                registered = app_services.create_application(
                    actor=request.user, **form.service_arguments()
                )
            except Refusal as refusal:
                refusal.record()
                form.add_error(None, refusal.message)
            else:
                if registered.client_secret:
                    return secret_page(
                        self,
                        request,
                        registered.application,
                        registered.client_secret,
                        title=f"{registered.application.name} was registered",
                    )
                self.message_user(
                    request,
                    f"{registered.application.name} was registered (a public client: no secret).",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:provider_application_change", args=[registered.application.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Register an application",
            "opts": self.model._meta,
            "form": form,
            "adminform": None,
        }
        return TemplateResponse(request, "admin/provider/application/add.html", context)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        changes = {
            field: form.cleaned_data[field]
            for field in form.changed_data
            if field in app_services.UPDATABLE
        }
        try:
            if changes:
                app_services.update_application(
                    actor=request.user, application=Application(pk=obj.pk), **changes
                )
            if "api_permissions" in form.changed_data:
                self._save_api_access(request, obj, form.cleaned_data["api_permissions"])
        except Refusal as refusal:
            self.refuse(request, refusal)

    def _save_api_access(self, request: HttpRequest, app: Application, values: list[str]) -> None:
        """One ``allow_api`` per API whose permissions changed (an API unticked entirely keeps
        its row, with no permission left)."""
        wanted = chosen_api_permissions(values)
        current = {a.api: a.scopes for a in ApiAccess.objects.filter(application=app)}
        for api in set(wanted) | set(current):
            scopes = sorted(wanted.get(api, []))
            if scopes != sorted(current.get(api, [])):
                app_services.allow_api(actor=request.user, application=app, api=api, scopes=scopes)
