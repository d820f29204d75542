"""The organization portal's Applications tab, at /orgs/<slug>/applications/.

An organization's admins register its own backends here: machine-to-machine apps bound to the
organization, which get management-API tokens that see this organization only. The secret is
shown once, on the page that made it (never in a message, which would sit in the session), and
can be rotated with an overlap or the app disabled with a reason.

``urlpatterns`` is mounted by config/urls.py under /orgs/<slug>/applications/, in the "orgs"
namespace, like the SSO tab. Organization, membership and refusals come from
``organizations.pages.org_page``; every app is fetched ``for_org(org)``
(provider.services.org_applications).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from config.refusals import Refusal
from organizations.models import Membership, Organization
from organizations.pages import org_page, page_context, submitted
from organizations.permissions import Perm
from provider.forms import OrgApplicationForm, ReasonForm, RotateSecretForm
from provider.management_api import PERMISSIONS
from provider.models import Application
from provider.services import org_applications as services

TAB = "applications"


def _context(org: Organization, membership: Membership, **extra: Any) -> dict[str, Any]:
    return page_context(org, membership, tab=TAB, permissions=PERMISSIONS, **extra)


def _access(app: Application) -> list[str]:
    return [scope for access in app.api_access.all() for scope in access.scopes]


def _secret_page(
    request: HttpRequest,
    org: Organization,
    membership: Membership,
    app: Application,
    secret: str,
    *,
    created: bool,
) -> HttpResponse:
    response = render(
        request,
        "provider/portal/secret.html",
        _context(
            org,
            membership,
            app=app,
            secret=secret,
            created=created,
            token_url=request.build_absolute_uri("/o/token/"),
            audience=_management_audience(app),
        ),
        status=201 if created else 200,
    )
    response["Cache-Control"] = "no-store"
    return response


def _management_audience(app: Application) -> str:
    access = app.api_access.select_related("api").first()
    return access.api.identifier if access is not None else ""


@org_page(Perm.MANAGE_APPLICATIONS)
@require_http_methods(["GET"])
def application_list(
    request: HttpRequest, org: Organization, membership: Membership
) -> HttpResponse:
    rows = [{"app": app, "scopes": _access(app)} for app in services.org_applications(org)]
    return render(request, "provider/portal/list.html", _context(org, membership, rows=rows))


@org_page(Perm.MANAGE_APPLICATIONS)
@require_http_methods(["GET", "POST"])
def application_new(
    request: HttpRequest, org: Organization, membership: Membership
) -> HttpResponse:
    form = OrgApplicationForm(request.POST or None)
    status = 200
    if request.method == "POST":
        registered = form.is_valid() and submitted(
            form,
            lambda: services.create_org_application(
                actor=membership,
                org=org,
                name=form.cleaned_data["name"],
                permissions=form.cleaned_data["permissions"],
            ),
            "permissions",
        )
        if registered:
            assert registered.client_secret is not None  # an M2M app is confidential
            return _secret_page(
                request,
                org,
                membership,
                registered.application,
                registered.client_secret,
                created=True,
            )
        status = getattr(form, "refusal_status", 400)
    return render(
        request, "provider/portal/new.html", _context(org, membership, form=form), status=status
    )


@org_page(Perm.MANAGE_APPLICATIONS)
@require_http_methods(["GET"])
def application_page(
    request: HttpRequest, org: Organization, membership: Membership, application_id: int
) -> HttpResponse:
    app = services.org_application(org, application_id)
    return render(
        request,
        "provider/portal/application.html",
        _context(
            org,
            membership,
            app=app,
            scopes=_access(app),
            rotate_form=RotateSecretForm(),
            reason_form=ReasonForm(),
        ),
    )


@org_page(Perm.MANAGE_APPLICATIONS)
@require_POST
def application_rotate(
    request: HttpRequest, org: Organization, membership: Membership, application_id: int
) -> HttpResponse:
    app = services.org_application(org, application_id)
    form = RotateSecretForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose how long the old secret keeps working.")
        return redirect("orgs:application", slug=org.slug, application_id=app.pk)
    app, secret = services.rotate_org_secret(
        actor=membership, org=org, application_id=app.pk, overlap=form.cleaned_data["overlap"]
    )
    return _secret_page(request, org, membership, app, secret, created=False)


def _switch(
    request: HttpRequest,
    org: Organization,
    membership: Membership,
    application_id: int,
    *,
    disabled: bool,
) -> HttpResponse:
    app = services.org_application(org, application_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why: the reason goes in the audit log.")
        return redirect("orgs:application", slug=org.slug, application_id=app.pk)
    try:
        services.set_org_app_disabled(
            actor=membership,
            org=org,
            application_id=app.pk,
            disabled=disabled,
            reason=form.cleaned_data["reason"],
        )
    except Refusal as refusal:
        if refusal.status in (403, 404):
            raise
        messages.error(request, refusal.message)
    else:
        messages.success(
            request,
            f"{app.name} is off: it gets no new tokens, and its tokens stop working."
            if disabled
            else f"{app.name} is on again.",
        )
    return redirect("orgs:application", slug=org.slug, application_id=app.pk)


@org_page(Perm.MANAGE_APPLICATIONS)
@require_POST
def application_disable(
    request: HttpRequest, org: Organization, membership: Membership, application_id: int
) -> HttpResponse:
    return _switch(request, org, membership, application_id, disabled=True)


@org_page(Perm.MANAGE_APPLICATIONS)
@require_POST
def application_enable(
    request: HttpRequest, org: Organization, membership: Membership, application_id: int
) -> HttpResponse:
    return _switch(request, org, membership, application_id, disabled=False)


urlpatterns = [
    path("", application_list, name="applications"),
    path("new/", application_new, name="application-new"),
    path("<int:application_id>/", application_page, name="application"),
    path("<int:application_id>/rotate/", application_rotate, name="application-rotate"),
    path("<int:application_id>/disable/", application_disable, name="application-disable"),
    path("<int:application_id>/enable/", application_enable, name="application-enable"),
]
