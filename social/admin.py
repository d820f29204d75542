"""Social login providers in the Django admin: staff add and change them here.

Secrets (the client secret, Apple's private key) are write-only: the form never puts them back
on the page, an empty field keeps the stored one, and the admin shows only whether one is
stored. Every change goes through social.services (audited).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from config.admin_mixins import NoSecretLookupsMixin
from social import services
from social.models import Kind, SocialProvider
from sso.fetch import FetchError, check_url

SECRET_HELP = "Stored encrypted and never shown again. Leave empty to keep the stored one."  # noqa: S105  (help text)


class WriteOnlyTextarea(forms.Textarea):
    """A text area that never shows a value, not even the one just typed into a form that
    comes back with an error."""

    def get_context(self, name: str, value: Any, attrs: Any) -> dict:
        return super().get_context(name, None, attrs)


class SocialProviderForm(forms.ModelForm):
    issuer = forms.URLField(
        required=False,
        assume_scheme="https",
        help_text="Generic OpenID Connect only: the issuer (https); its discovery document is "
        "read from <issuer>/.well-known/openid-configuration.",
    )
    client_secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=SECRET_HELP + " Not used for Apple (see the private key).",
    )
    apple_private_key = forms.CharField(
        required=False,
        label="Apple private key (.p8)",
        widget=WriteOnlyTextarea(attrs={"rows": 4, "autocomplete": "off"}),
        help_text=SECRET_HELP,
    )

    class Meta:
        model = SocialProvider
        fields = (
            "kind",
            "slug",
            "name",
            "enabled",
            "position",
            "client_id",
            "issuer",
            "tenant",
            "apple_team_id",
            "apple_key_id",
        )

    def clean_apple_private_key(self) -> str:
        return str(self.cleaned_data.get("apple_private_key") or "").strip()

    def clean(self) -> dict:
        data = super().clean() or {}
        kind = data.get("kind")
        instance = self.instance
        if kind == Kind.OIDC:
            issuer = (data.get("issuer") or "").rstrip("/")
            if not issuer:
                self.add_error("issuer", "An OpenID provider needs its issuer URL.")
            else:
                try:
                    check_url(f"{issuer}/.well-known/openid-configuration")
                except FetchError as exc:
                    self.add_error("issuer", f"Gatehouse cannot use this issuer: {exc}")
                data["issuer"] = issuer
        elif data.get("issuer"):
            self.add_error("issuer", "Only a generic OpenID provider takes an issuer.")
        if kind == Kind.APPLE:
            for field in ("apple_team_id", "apple_key_id"):
                if not data.get(field):
                    self.add_error(field, "Sign in with Apple needs this.")
            if not data.get("apple_private_key") and not instance.apple_private_key_encrypted:
                self.add_error("apple_private_key", "Sign in with Apple needs its private key.")
        elif not data.get("client_secret") and not instance.client_secret_encrypted:
            self.add_error("client_secret", "The provider's client secret is needed.")
        if kind == Kind.GITHUB:
            others = SocialProvider.objects.filter(kind=Kind.GITHUB).exclude(pk=instance.pk)
            if others.exists():
                self.add_error("kind", "There is a GitHub provider already: change that one.")
        return data


@admin.register(SocialProvider)
class SocialProviderAdmin(NoSecretLookupsMixin, admin.ModelAdmin):
    form = SocialProviderForm
    secret_fields = frozenset({"client_secret_encrypted", "apple_private_key_encrypted"})
    list_display = ("name", "kind", "slug", "enabled", "position", "updated_at")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "=slug")
    readonly_fields = ("secret_stored", "redirect_uri", "created_at", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The slug is in the redirect URI and in every identity linked through the provider.
        fields = tuple(self.readonly_fields)
        return (*fields, "kind", "slug") if obj is not None else fields

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = [*SocialProviderForm.Meta.fields, "client_secret", "apple_private_key"]
        if obj is not None:
            fields = [f for f in fields if f not in ("kind", "slug")]
            fields = ["kind", "slug", "redirect_uri", *fields, "secret_stored"]
        return fields

    @admin.display(description="Secret stored", boolean=True)
    def secret_stored(self, obj: SocialProvider) -> bool:
        if obj.kind == Kind.APPLE:
            return bool(obj.apple_private_key_encrypted)
        return obj.has_client_secret

    @admin.display(description="Redirect URI to register at the provider")
    def redirect_uri(self, obj: SocialProvider) -> str:
        from social.templatetags.social_login import callback_path

        return callback_path(obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.save_provider(
            actor=request.user,
            row=obj,
            client_secret=form.cleaned_data.get("client_secret") or "",
            apple_private_key=form.cleaned_data.get("apple_private_key") or "",
            changed=[
                f for f in form.changed_data if f not in ("client_secret", "apple_private_key")
            ],
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.delete_provider(actor=request.user, row=obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for row in queryset:
            services.delete_provider(actor=request.user, row=row)
