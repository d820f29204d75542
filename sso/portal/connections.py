"""The SSO tab's list of connections, a new connection, and the last step of the wizard: test,
turn on, turn off, delete."""

from __future__ import annotations

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.providers.base import AuthProcess
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from onelogin.saml2.errors import OneLogin_Saml2_Error

from config.refusals import Refusal
from organizations.models import Membership, Organization
from organizations.permissions import Perm
from sso import entry, services
from sso.forms import NewConnectionForm
from sso.models import Connection
from sso.portal.pages import (
    certificate_warnings,
    connection_for_page,
    org_page,
    show_refusal,
    sso_context,
    submit,
    wizard_page,
)


@org_page(Perm.MANAGE_SSO)
@require_http_methods(["GET"])
def connection_list(
    request: HttpRequest, org: Organization, membership: Membership
) -> HttpResponse:
    rows = [
        {
            "connection": c,
            "missing": services.missing_settings(c) if not c.is_active else [],
            "warnings": certificate_warnings(c) if c.is_saml else [],
        }
        for c in Connection.objects.for_org(org).prefetch_related("domains", "certificates")
    ]
    return render(request, "sso/portal/list.html", sso_context(org, membership, rows=rows))


@org_page(Perm.MANAGE_SSO)
@require_http_methods(["GET", "POST"])
def new_connection(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    form = NewConnectionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        connection = form.is_valid() and submit(
            form,
            lambda: services.create_connection(
                actor=membership,
                org=org,
                site_url=request.build_absolute_uri("/"),
                protocol=form.cleaned_data["protocol"],
                name=form.cleaned_data["name"],
            ),
            "name",
        )
        if connection:
            messages.success(request, f"{connection.name} was created. Start at step 1.")
            return redirect("orgs:sso-sp", slug=org.slug, connection_id=connection.pk)
        status = 400
    return render(
        request, "sso/portal/new.html", sso_context(org, membership, form=form), status=status
    )


@org_page(Perm.MANAGE_SSO)
@require_http_methods(["GET"])
def connection_page(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int
) -> HttpResponse:
    connection = connection_for_page(org, connection_id)
    return wizard_page(
        request,
        org,
        membership,
        connection,
        "sso/portal/connection.html",
        "connection",
        warnings=certificate_warnings(connection) if connection.is_saml else [],
        testable=services.testable(connection),
    )


@org_page(Perm.MANAGE_SSO)
@require_POST
def test_connection(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int
) -> HttpResponse:
    """Start a real login through the connection, marked in this admin's session as a test:
    it ends on a diagnostic page (sso.diagnostics.connection_test_result) instead of in a
    session."""
    connection = connection_for_page(org, connection_id)
    back = redirect("orgs:sso-connection", slug=org.slug, connection_id=connection.pk)
    try:
        services.start_test(actor=membership, org=org, connection_id=connection.pk)
    except Refusal as exc:
        show_refusal(request, exc)
        return back
    entry.start_test(request, connection)
    provider = get_adapter(request).get_provider(request, connection.slug)
    try:
        return provider.redirect(request, AuthProcess.LOGIN)
    except ImmediateHttpResponse as answer:
        return answer.response
    except (OneLogin_Saml2_Error, ValueError) as exc:
        messages.error(request, f"The test could not start: {exc}")
        return back


@org_page(Perm.MANAGE_SSO)
@require_POST
def activate(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int
) -> HttpResponse:
    connection = connection_for_page(org, connection_id)
    try:
        services.activate(actor=membership, org=org, connection_id=connection.pk)
    except Refusal as exc:
        show_refusal(request, exc)
    else:
        messages.success(
            request,
            f"{connection.name} is on: people at its domains can sign in with it now.",
        )
    return redirect("orgs:sso-connection", slug=org.slug, connection_id=connection.pk)


@org_page(Perm.MANAGE_SSO)
@require_POST
def disable(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int
) -> HttpResponse:
    connection = connection_for_page(org, connection_id)
    services.disable(actor=membership, org=org, connection_id=connection.pk)
    messages.success(request, f"{connection.name} is off: nobody can sign in with it.")
    return redirect("orgs:sso-connection", slug=org.slug, connection_id=connection.pk)


@org_page(Perm.MANAGE_SSO)
@require_http_methods(["GET", "POST"])
def delete(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int
) -> HttpResponse:
    """GET: what deleting takes away, and the confirmation. POST: delete."""
    connection = connection_for_page(org, connection_id)
    if request.method == "POST":
        try:
            services.delete_connection(actor=membership, org=org, connection_id=connection.pk)
        except Refusal as exc:
            show_refusal(request, exc)
            return redirect("orgs:sso-delete", slug=org.slug, connection_id=connection.pk)
        messages.success(request, f"{connection.name} was deleted.")
        return redirect("orgs:sso", slug=org.slug)
    return render(
        request,
        "sso/portal/delete.html",
        sso_context(
            org,
            membership,
            connection=connection,
            identities=SocialAccount.objects.filter(provider=connection.slug).count(),
        ),
    )
