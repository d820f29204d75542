"""APIs (resource servers) in the admin: created and changed through the API services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.forms import ModelForm
from django.http import HttpRequest

from config.refusals import Refusal
from provider.admin.common import ServiceSavesMixin
from provider.models import Api
from provider.services import apis as api_services


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
