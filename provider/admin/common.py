"""What the provider's admin pages share: the page that shows a secret once, actions that
ask for a reason, and change forms saved by durable services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.contrib import admin
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from config.refusals import Refusal, admin_refusal
from provider.forms import AdminReasonForm
from provider.models import Application

# Columns that hold a secret, a token or its checksum: never shown, never filterable.
TOKEN_FIELDS = frozenset({"token", "token_checksum", "code", "device_code", "user_code", "jti"})
APP_SECRET_FIELDS = frozenset(
    {"client_secret", "secret_digest", "previous_secret_digest", "secret_key_id"}
)
REASON_TEMPLATE = "admin/provider/reason_action.html"
SECRET_TEMPLATE = "admin/provider/application/secret.html"  # noqa: S105


def secret_page(
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
