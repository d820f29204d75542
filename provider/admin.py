"""The provider in the Django admin: applications, APIs and signing keys for staff, with every
change made by a service (checked and audited) and no secret or token value anywhere.

DOT registers its own admins for the swapped models (oauth2_provider/admin.py), which edit the
client secret and redirect URIs around Gatehouse's rules and show token suffixes: they are
unregistered here (oauth2_provider comes before provider in INSTALLED_APPS, so its admin module
has run by now) and replaced.

- Applications: registered through ``create_application`` on a page of their own that shows a
  confidential app's secret once; edited through ``update_application`` (redirect URIs checked
  again for the app's kind); "rotate secret", "disable" and "enable" ask for a reason.
- APIs: created through ``create_api``; name, permissions, lifetime and introspectors edited
  through ``update_api``.
- Signing keys: read-only; "publish next", "activate" and "retire" call provider.services.keys.
- Tokens, grants and device grants: read-only, without their values or checksums.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.forms import ModelForm, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache

from accounts.models import User
from config.admin_mixins import NoSecretLookupsMixin, ReadOnlyAdminMixin
from config.refusals import Refusal, admin_refusal
from provider.forms import (
    AdminReasonForm,
    NewApplicationForm,
    api_permission_choices,
    chosen_api_permissions,
)
from provider.models import (
    AccessToken,
    Api,
    ApiAccess,
    Application,
    DeviceGrant,
    Grant,
    IDToken,
    KeyState,
    RefreshToken,
    SigningKey,
)
from provider.models.applications import CONFIDENTIAL_KINDS
from provider.services import apis as api_services
from provider.services import applications as app_services
from provider.services import keys as key_services
from provider.services.applications import OIDC_SCOPES
from provider.services.org_applications import OVERLAPS

for _model in (Application, AccessToken, RefreshToken, Grant, IDToken, DeviceGrant):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)

# Columns that hold a secret, a token or its checksum: never shown, never filterable.
TOKEN_FIELDS = frozenset({"token", "token_checksum", "code", "device_code", "user_code", "jti"})
APP_SECRET_FIELDS = frozenset(
    {"client_secret", "secret_digest", "previous_secret_digest", "secret_key_id"}
)
REASON_TEMPLATE = "admin/provider/reason_action.html"
SECRET_TEMPLATE = "admin/provider/application/secret.html"  # noqa: S105


def _secret_page(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    application: Application,
    secret: str,
    *,
    title: str,
) -> HttpResponse:
    """The one page that shows a client secret: rendered in the response to the request that
    made it, never put in a message (messages are kept in the session until shown)."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": Application._meta,
        "application": application,
        "secret": secret,
        "change_url": reverse("admin:provider_application_change", args=[application.pk]),
    }
    response = TemplateResponse(request, SECRET_TEMPLATE, context)
    response["Cache-Control"] = "no-store"
    return response


def reasoned_action(
    *,
    name: str,
    verb: str,
    perform: Callable[[admin.ModelAdmin[Any], HttpRequest, QuerySet[Any], AdminReasonForm], Any],
    overlap: bool = False,
    force: bool = False,
) -> Callable[[admin.ModelAdmin[Any], HttpRequest, QuerySet[Any]], HttpResponse | None]:
    """An admin action that asks for a reason (and, where it applies, the secret's overlap or
    whether to force a key change) on an intermediate page, then calls ``perform``, which
    calls services and may return a response of its own (the page showing a new secret)."""

    def action(
        model_admin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        form = AdminReasonForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            try:
                return cast(HttpResponse | None, perform(model_admin, request, queryset, form))
            except Refusal as refusal:
                admin_refusal(model_admin, request, refusal)
                return None
        context = {
            **model_admin.admin_site.each_context(request),
            "title": f"{verb.capitalize()}: give a reason",
            "opts": model_admin.model._meta,
            "form": form,
            "objects": list(queryset[:20]),
            "selected_ids": [
                pk
                for pk in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
                if pk.isascii() and pk.isdigit()
            ],
            "action_name": name,
            "verb": verb,
            "show_overlap": overlap,
            "show_force": force,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "changelist_url": reverse(
                f"admin:{model_admin.model._meta.app_label}_"
                f"{model_admin.model._meta.model_name}_changelist"
            ),
        }
        return TemplateResponse(request, REASON_TEMPLATE, context)

    action.__name__ = name
    action.allowed_permissions = ("change",)  # type: ignore[attr-defined]
    action.short_description = f"{verb.capitalize()} (asks for a reason)"  # type: ignore[attr-defined]
    return action


class _Refused(Exception):
    """A service refused the admin's save: the page is shown again with the refusal."""


class ServiceSavesMixin:
    """Change forms whose ``save_model`` calls a durable service. Django wraps a change form's
    POST in one transaction of its own; here there is none, so each service owns its
    transaction as it does everywhere else. A refusal is shown at the top of the same page
    (``admin_refusal``) and nothing is saved."""

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: Any = None,
    ) -> HttpResponse:
        try:
            return self._changeform_view(  # type: ignore[attr-defined,no-any-return]
                request, object_id, form_url, extra_context
            )
        except _Refused:
            return HttpResponseRedirect(request.get_full_path())

    def refuse(self, request: HttpRequest, refusal: Refusal) -> None:
        admin_refusal(self, request, refusal)  # type: ignore[arg-type]
        raise _Refused() from refusal

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None  # the service wrote the audit event; Django's LogEntry would repeat it

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None


# --- Applications --------------------------------------------------------------------------------


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
    return _secret_page(model_admin, request, apps[0], secret, title="A new client secret")


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
class ApplicationAdmin(ServiceSavesMixin, NoSecretLookupsMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    secret_fields = APP_SECRET_FIELDS
    form = ApplicationChangeForm
    list_display = ("name", "kind", "client_id", "organization", "first_party", "enabled")
    list_filter = ("kind", "first_party", ("disabled_at", admin.EmptyFieldListFilter))
    list_select_related = ("organization",)
    search_fields = ("name", "=client_id")
    show_full_result_count = False
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
                    return _secret_page(
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


# --- APIs ----------------------------------------------------------------------------------------


class ApiForm(ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Api
        fields = (
            "identifier",
            "name",
            "scopes",
            "access_token_lifetime",
            "token_format",
            "signing_alg",
            "introspectors",
        )


@admin.register(Api)
class ApiAdmin(ServiceSavesMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    form = ApiForm
    list_display = ("name", "identifier", "token_format", "signing_alg", "access_token_lifetime")
    search_fields = ("name", "identifier")
    filter_horizontal = ("introspectors",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # The identifier is the aud of every token already issued, and the format what its
        # resource servers expect: neither changes once the API exists.
        return ("identifier", "token_format", "signing_alg", "system") if obj else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        try:
            if change:
                api_services.update_api(
                    actor=request.user,
                    api=obj,
                    name=data["name"],
                    scopes=data["scopes"] or {},
                    access_token_lifetime=data["access_token_lifetime"],
                )
            else:
                created = api_services.create_api(
                    actor=request.user,
                    identifier=data["identifier"],
                    name=data["name"],
                    scopes=data["scopes"] or {},
                    access_token_lifetime=data["access_token_lifetime"],
                    token_format=data["token_format"],
                    signing_alg=data["signing_alg"],
                )
                obj.pk = created.pk
        except Refusal as refusal:
            self.refuse(request, refusal)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        api = Api.objects.get(pk=form.instance.pk)
        try:
            api_services.update_api(
                actor=request.user, api=api, introspectors=list(form.cleaned_data["introspectors"])
            )
        except Refusal as refusal:
            self.refuse(request, refusal)


# --- Signing keys --------------------------------------------------------------------------------


def _publish(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    form: AdminReasonForm,
) -> None:
    for alg in sorted(set(queryset.values_list("alg", flat=True))):
        row = key_services.publish_next_key(
            actor=request.user, alg=alg, reason=form.cleaned_data["reason"]
        )
        model_admin.message_user(
            request, f"Published {alg} key {row.kid}; it signs once activated.", messages.SUCCESS
        )


def _activate(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    form: AdminReasonForm,
) -> None:
    for alg in sorted(set(queryset.filter(state=KeyState.NEXT).values_list("alg", flat=True))):
        row = key_services.activate_next_key(
            actor=request.user,
            alg=alg,
            force=form.cleaned_data["force"],
            reason=form.cleaned_data["reason"],
        )
        model_admin.message_user(request, f"{alg} key {row.kid} signs now.", messages.SUCCESS)


def _retire(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    form: AdminReasonForm,
) -> None:
    """Retire the selected retiring keys once their tokens have expired, or at once when
    forced (a compromised key)."""
    retired: list[str] = []
    for key in queryset.filter(state=KeyState.RETIRING):
        if form.cleaned_data["force"]:
            retired += key_services.retire_keys(
                actor=request.user, force_kid=key.kid, reason=form.cleaned_data["reason"]
            )
    if not form.cleaned_data["force"]:
        due = set(queryset.filter(state=KeyState.RETIRING).values_list("kid", flat=True))
        retired += [
            kid
            for kid in key_services.retire_keys(
                actor=request.user, reason=form.cleaned_data["reason"]
            )
            if kid in due
        ]
    model_admin.message_user(
        request,
        f"Retired: {', '.join(retired)}." if retired else "No selected key was due to retire.",
        messages.SUCCESS if retired else messages.WARNING,
    )


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    secret_fields = frozenset({"private_jwk"})
    list_display = ("kid", "alg", "state", "created_at", "activated_at", "retiring_at")
    list_filter = ("alg", "state")
    fields = ("kid", "alg", "state", "public_jwk", "created_at", "activated_at", "retiring_at")
    readonly_fields = fields
    ordering = ("-created_at",)
    actions = [
        reasoned_action(name="publish_next", verb="publish the next key", perform=_publish),
        reasoned_action(name="activate_next", verb="activate", perform=_activate, force=True),
        reasoned_action(name="retire", verb="retire", perform=_retire, force=True),
    ]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The list's actions need "change"; a key's own page stays view-only, so that no form
        # can save a key row outside provider.services.keys.
        if obj is not None:
            return False
        return bool(cast(User, request.user).has_perm("provider.change_signingkey"))


# --- Tokens and grants, read-only and without their values ---------------------------------------


class TokenAdmin(ReadOnlyAdminMixin, NoSecretLookupsMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    secret_fields = TOKEN_FIELDS
    list_select_related = ["application", "user"]
    search_fields = ("=application__client_id", "=user__email")
    show_full_result_count = False
    ordering = ("-pk",)


@admin.register(AccessToken)
class AccessTokenAdmin(TokenAdmin):
    list_display = ("pk", "application", "user", "api", "organization", "scope", "expires")
    fields = (
        "application",
        "user",
        "api",
        "organization",
        "scope",
        "expires",
        "created",
        "sid",
        "family",
    )
    readonly_fields = fields


@admin.register(RefreshToken)
class RefreshTokenAdmin(TokenAdmin):
    list_display = ("pk", "application", "user", "api", "organization", "revoked", "created")
    fields = (
        "application",
        "user",
        "api",
        "organization",
        "token_family",
        "family_expires_at",
        "revoked",
        "created",
    )
    readonly_fields = fields


@admin.register(Grant)
class GrantAdmin(TokenAdmin):
    list_display = ("pk", "application", "user", "expires", "used_at")
    fields = ("application", "user", "scope", "redirect_uri", "expires", "used_at", "created")
    readonly_fields = fields


@admin.register(IDToken)
class IDTokenAdmin(TokenAdmin):
    list_display = ("pk", "application", "user", "expires")
    fields = ("application", "user", "scope", "expires", "created", "sid")
    readonly_fields = fields


@admin.register(DeviceGrant)
class DeviceGrantAdmin(TokenAdmin):
    list_display = ("pk", "client_id", "user", "status", "expires", "used_at")
    list_select_related = ["user"]
    search_fields = ("=client_id", "=user__email")
    fields = ("client_id", "user", "status", "scope", "expires", "used_at", "failed_attempts")
    readonly_fields = fields
