"""Steps 1 and 2 of the wizard: the values to give the IdP, and the IdP's own settings (SAML
metadata by URL or file, or settings by hand; the OIDC discovery URL and client)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from config.refusals import Refusal
from organizations.models import Membership, Organization
from organizations.permissions import Perm
from sso import services
from sso.forms import MetadataUploadForm, MetadataURLForm, OIDCSettingsForm, SAMLSettingsForm
from sso.models import Connection
from sso.portal.pages import (
    connection_for_page,
    next_url,
    org_page,
    show_refusal,
    sp_certificate,
    sp_values,
    submit,
    wizard_page,
)

# --- Step 1: what to give the IdP ---------------------------------------------------------------


@org_page(Perm.MANAGE_SSO)
@require_http_methods(["GET"])
def sp_step(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int
) -> HttpResponse:
    connection = connection_for_page(org, connection_id)
    return wizard_page(
        request,
        org,
        membership,
        connection,
        "sso/portal/step_sp.html",
        "sp",
        values=sp_values(request, connection),
        sp_certificate=sp_certificate(connection.sp_certificate) if connection.is_saml else None,
    )


# --- Step 2: the IdP's settings -----------------------------------------------------------------


def _saml_initial(connection: Connection) -> dict[str, Any]:
    return {
        "name": connection.name,
        "idp_entity_id": connection.idp_entity_id,
        "idp_sso_url": connection.idp_sso_url,
        "idp_slo_url": connection.idp_slo_url,
        "email_attribute": connection.email_attribute,
        "first_name_attribute": connection.first_name_attribute,
        "last_name_attribute": connection.last_name_attribute,
        "allow_idp_initiated": connection.allow_idp_initiated,
    }


def _oidc_initial(connection: Connection) -> dict[str, Any]:
    return {
        "name": connection.name,
        "discovery_url": connection.discovery_url,
        "client_id": connection.client_id,
        "id_token_algorithm": connection.id_token_algorithm,
        "scopes": connection.scopes,
        "token_auth_method": connection.token_auth_method,
        "email_attribute": connection.email_attribute,
    }


def _idp_page(
    request: HttpRequest,
    org: Organization,
    membership: Membership,
    connection: Connection,
    *,
    status: int = 200,
    **bound: Any,
) -> HttpResponse:
    forms: dict[str, Any] = {}
    if connection.is_saml:
        forms["url_form"] = bound.get("url_form") or MetadataURLForm(
            initial={"metadata_url": connection.metadata_url}
        )
        forms["file_form"] = bound.get("file_form") or MetadataUploadForm()
        forms["form"] = bound.get("form") or SAMLSettingsForm(initial=_saml_initial(connection))
    else:
        forms["form"] = bound.get("form") or OIDCSettingsForm(
            initial=_oidc_initial(connection), has_secret=connection.has_client_secret
        )
    return wizard_page(
        request,
        org,
        membership,
        connection,
        "sso/portal/step_idp.html",
        "idp",
        status=status,
        **forms,
    )


@org_page(Perm.MANAGE_SSO)
@require_http_methods(["GET", "POST"])
def idp_step(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int
) -> HttpResponse:
    """GET: the step. POST: the settings typed by hand (SAML) or the OIDC client."""
    connection = connection_for_page(org, connection_id)
    if request.method == "GET":
        return _idp_page(request, org, membership, connection)
    form: SAMLSettingsForm | OIDCSettingsForm
    update: Callable[..., Connection]
    if connection.is_saml:
        form = SAMLSettingsForm(request.POST)
        update = services.update_saml  # with the certificate typed next to the settings
    else:
        form = OIDCSettingsForm(request.POST, has_secret=connection.has_client_secret)
        update = services.update_oidc
    saved = form.is_valid() and submit(
        form,
        lambda: update(actor=membership, org=org, connection_id=connection.pk, **form.cleaned_data),
    )
    if saved:
        messages.success(request, "The IdP's settings were saved.")
        return redirect(next_url(org, connection, "idp"))
    return _idp_page(
        request, org, membership, connection_for_page(org, connection.pk), status=400, form=form
    )


def _import_metadata(
    request: HttpRequest,
    org: Organization,
    membership: Membership,
    connection_id: int,
    form: Any,
    field: str,
    source: str,
) -> HttpResponse:
    """Read the IdP's metadata from the URL or file ``form`` carries (``source``: "url" or
    "xml", the import service's argument); back to step 2 either way."""
    connection = connection_for_page(org, connection_id)
    if form.is_valid() and submit(
        form,
        lambda: services.import_metadata(
            actor=membership,
            org=org,
            connection_id=connection.pk,
            **{source: form.cleaned_data[field]},
        ),
        field,
    ):
        messages.success(request, "The metadata was read: check the settings it filled in below.")
        return redirect("orgs:sso-idp", slug=org.slug, connection_id=connection.pk)
    forms_shown = {"url_form" if source == "url" else "file_form": form}
    return _idp_page(
        request, org, membership, connection_for_page(org, connection.pk), status=400, **forms_shown
    )


@org_page(Perm.MANAGE_SSO)
@require_POST
def metadata_url(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int
) -> HttpResponse:
    form = MetadataURLForm(request.POST)
    return _import_metadata(request, org, membership, connection_id, form, "metadata_url", "url")


@org_page(Perm.MANAGE_SSO)
@require_POST
def metadata_file(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int
) -> HttpResponse:
    form = MetadataUploadForm(request.POST, request.FILES)
    return _import_metadata(request, org, membership, connection_id, form, "metadata_file", "xml")


@org_page(Perm.MANAGE_SSO)
@require_POST
def metadata_stop(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int
) -> HttpResponse:
    connection = connection_for_page(org, connection_id)
    try:
        services.stop_metadata_refresh(actor=membership, org=org, connection_id=connection.pk)
    except Refusal as exc:
        show_refusal(request, exc)
    else:
        messages.success(request, "The metadata URL will not be read again; the settings stay.")
    return redirect("orgs:sso-idp", slug=org.slug, connection_id=connection.pk)
