"""The SSO tab of the organization portal, at /orgs/<slug>/sso/.

A list of the organization's connections, and for each one a wizard: (1) the values to give
the IdP, (2) the IdP's own settings (SAML metadata by URL or file, or by hand; OIDC discovery
and client), (3) accounts and roles, (4) the IdP's signing certificates (SAML), then test, turn
on, turn off or delete. Every change goes through sso.services, which checks the permission,
writes the audit event and says what is wrong; these views only translate forms and answers.

The organization and the membership come from ``org_page`` (organizations/views.py), connections
are fetched ``for_org(org)``. Nothing secret is rendered: not the client secret, not the SP's
private key. ``urlpatterns`` is mounted by organizations/urls.py under /orgs/<slug>/sso/, in the
"orgs" namespace (so the list keeps its name, ``orgs:sso``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.providers.base import AuthProcess
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from onelogin.saml2.errors import OneLogin_Saml2_Error

from config.refusals import NotFound, Refusal
from organizations.models import Membership, Organization
from organizations.pages import org_page
from organizations.pages import page_context as _context
from organizations.pages import submitted as _submitted
from organizations.permissions import Perm
from organizations.services import require
from sso import certificates, services
from sso.forms import (
    AccountsForm,
    CertificateForm,
    MetadataUploadForm,
    MetadataURLForm,
    NewConnectionForm,
    OIDCSettingsForm,
    SAMLSettingsForm,
    format_role_mapping,
)
from sso.models import Connection, IdPCertificate

EXPIRY_WARNING_DAYS = max(services.WARN_DAYS)


def _connection(org: Organization, connection_id: int) -> Connection:
    try:
        return (
            Connection.objects.for_org(org)
            .prefetch_related("domains", "certificates")
            .get(pk=connection_id)
        )
    except Connection.DoesNotExist:
        raise NotFound("No such connection.") from None


def _refused_unless_shown(request: HttpRequest, exc: Refusal) -> None:
    """An access refusal or an unknown object goes up to ``org_page`` (403 page, 404); any
    other refusal is the admin's to fix and is shown as a message."""
    if exc.status in (403, 404):
        raise exc
    messages.error(request, str(exc))


# --- What the pages show ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    number: int
    key: str  # the URL name's suffix: orgs:sso-<key>
    title: str
    done: bool | None  # None: nothing to check (the values to give the IdP)


def _idp_done(connection: Connection) -> bool:
    if connection.is_saml:
        return bool(connection.idp_entity_id and connection.idp_sso_url)
    return bool(connection.discovery_url and connection.client_id and connection.has_client_secret)


def _current_certificates(connection: Connection) -> list[IdPCertificate]:
    now = timezone.now()
    return [c for c in connection.certificates.all() if c.not_after > now]


def steps(connection: Connection) -> list[Step]:
    found = [
        Step(1, "sp", "Give your IdP these values", None),
        Step(2, "idp", "Tell us about your IdP", _idp_done(connection)),
        Step(3, "accounts", "Accounts and roles", connection.domains.exists()),
    ]
    if connection.is_saml:
        found.append(
            Step(4, "certificates", "Signing certificates", bool(_current_certificates(connection)))
        )
    found.append(Step(len(found) + 1, "connection", "Test and turn on", connection.is_active))
    return found


def certificate_warnings(connection: Connection) -> list[str]:
    """Expired certificates, and current ones close to expiry when there is no newer one."""
    now = timezone.now()
    soon = now + timedelta(days=EXPIRY_WARNING_DAYS)
    certs = list(connection.certificates.all())
    latest = max((c.not_after for c in certs), default=None)
    warnings = []
    for cert in certs:
        if cert.not_after <= now:
            warnings.append(
                f"A signing certificate expired on {cert.not_after:%d %b %Y}: remove it."
            )
        elif cert.not_after <= soon and cert.not_after == latest:
            warnings.append(
                f"The IdP's signing certificate expires on {cert.not_after:%d %b %Y} "
                f"({cert.days_left} days): add its successor now."
            )
    return warnings


def sp_values(request: HttpRequest, connection: Connection) -> dict[str, str]:
    """The absolute URLs an admin pastes into the IdP."""
    if connection.is_oidc:
        return {
            "redirect_uri": request.build_absolute_uri(
                reverse("openid_connect_callback", kwargs={"provider_id": connection.slug})
            )
        }
    kwargs = {"organization_slug": connection.slug}
    metadata = request.build_absolute_uri(reverse("saml_metadata", kwargs=kwargs))
    return {
        "entity_id": connection.sp_entity_id,
        "acs_url": request.build_absolute_uri(reverse("saml_acs", kwargs=kwargs)),
        "metadata_url": metadata,
        "metadata_download_url": f"{metadata}?download=1",
        "sls_url": request.build_absolute_uri(reverse("saml_sls", kwargs=kwargs)),
    }


def _sp_certificate(connection: Connection) -> certificates.CertificateInfo | None:
    if not connection.sp_certificate:
        return None
    try:
        return certificates.read_certificate(connection.sp_certificate)
    except certificates.BadCertificate:
        return None


def _page(
    request: HttpRequest,
    org: Organization,
    membership: Membership,
    connection: Connection,
    template: str,
    step: str,
    *,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    all_steps = steps(connection)
    current = next(s for s in all_steps if s.key == step)
    following = next((s for s in all_steps if s.number == current.number + 1), None)
    context = _context(
        org,
        membership,
        tab="sso",
        connection=connection,
        steps=all_steps,
        step=current,
        next_step=following,
        missing=services.missing_settings(connection),
        **extra,
    )
    return render(request, template, context, status=status)


def _next_url(org: Organization, connection: Connection, after: str) -> str:
    keys = [s.key for s in steps(connection)]
    following = keys[keys.index(after) + 1]
    return reverse(f"orgs:sso-{following}", args=[org.slug, connection.pk])


# --- The list and a new connection --------------------------------------------------------------


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
    return render(request, "sso/portal/list.html", _context(org, membership, tab="sso", rows=rows))


@org_page(Perm.MANAGE_SSO)
@require_http_methods(["GET", "POST"])
def new_connection(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    form = NewConnectionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        connection = form.is_valid() and _submitted(
            form,
            lambda: services.create_connection(
                actor=membership,
                org=org,
                request=request,
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
        request,
        "sso/portal/new.html",
        _context(org, membership, tab="sso", form=form),
        status=status,
    )


# --- Step 1: what to give the IdP -----------------------------------------------------------------


@org_page(Perm.MANAGE_SSO)
@require_http_methods(["GET"])
def sp_step(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int
) -> HttpResponse:
    connection = _connection(org, connection_id)
    return _page(
        request,
        org,
        membership,
        connection,
        "sso/portal/step_sp.html",
        "sp",
        values=sp_values(request, connection),
        sp_certificate=_sp_certificate(connection) if connection.is_saml else None,
    )


# --- Step 2: the IdP's settings -------------------------------------------------------------------


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
    return _page(
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
    connection = _connection(org, connection_id)
    if request.method == "GET":
        return _idp_page(request, org, membership, connection)
    form: SAMLSettingsForm | OIDCSettingsForm
    if connection.is_saml:
        saml_form = form = SAMLSettingsForm(request.POST)
        saved = saml_form.is_valid() and _submitted(
            saml_form, lambda: _save_saml(membership, org, connection, saml_form)
        )
    else:
        form = OIDCSettingsForm(request.POST, has_secret=connection.has_client_secret)
        saved = form.is_valid() and _submitted(
            form,
            lambda: services.update_oidc(
                actor=membership, org=org, connection_id=connection.pk, **form.cleaned_data
            ),
        )
    if saved:
        messages.success(request, "The IdP's settings were saved.")
        return redirect(_next_url(org, connection, "idp"))
    return _idp_page(
        request, org, membership, _connection(org, connection.pk), status=400, form=form
    )


def _save_saml(
    membership: Membership, org: Organization, connection: Connection, form: SAMLSettingsForm
) -> Connection:
    data = dict(form.cleaned_data)
    pem = data.pop("certificate")
    # Asked first, outside the block below: a refusal's audit event must not be rolled back.
    require(membership, org, Perm.MANAGE_SSO, "sso.update_connection")
    # One change: settings without the certificate typed next to them are not kept.
    with transaction.atomic():
        saved = services.update_saml(actor=membership, org=org, connection_id=connection.pk, **data)
        if pem:
            services.add_certificate(
                actor=membership, org=org, connection_id=connection.pk, pem=pem
            )
    return saved


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
    connection = _connection(org, connection_id)
    if form.is_valid() and _submitted(
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
        request, org, membership, _connection(org, connection.pk), status=400, **forms_shown
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
    connection = _connection(org, connection_id)
    try:
        services.stop_metadata_refresh(actor=membership, org=org, connection_id=connection.pk)
    except Refusal as exc:
        _refused_unless_shown(request, exc)
    else:
        messages.success(request, "The metadata URL will not be read again; the settings stay.")
    return redirect("orgs:sso-idp", slug=org.slug, connection_id=connection.pk)


# --- Step 3: accounts and roles -------------------------------------------------------------------


@org_page(Perm.MANAGE_SSO)
@require_http_methods(["GET", "POST"])
def accounts_step(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int
) -> HttpResponse:
    connection = _connection(org, connection_id)
    initial = {
        "jit_enabled": connection.jit_enabled,
        "default_role": connection.default_role,
        "groups_attribute": connection.groups_attribute,
        "role_mapping": format_role_mapping(connection.role_mapping),
        "mfa_trust": connection.mfa_trust,
        "domain_ids": [str(d.pk) for d in connection.domains.all()],
    }
    form = AccountsForm(request.POST or None, initial=initial, org=org)
    status = 200
    if request.method == "POST":
        if form.is_valid() and _submitted(
            form,
            lambda: services.update_accounts(
                actor=membership, org=org, connection_id=connection.pk, **form.cleaned_data
            ),
        ):
            messages.success(request, "Accounts and roles were saved.")
            return redirect(_next_url(org, connection, "accounts"))
        status = 400
    return _page(
        request,
        org,
        membership,
        connection,
        "sso/portal/step_accounts.html",
        "accounts",
        status=status,
        form=form,
        unverified_domains=[d for d in connection.domains.all() if not d.is_verified],
    )


# --- Step 4: the IdP's signing certificates (SAML) ------------------------------------------------


@org_page(Perm.MANAGE_SSO)
@require_http_methods(["GET", "POST"])
def certificates_step(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int
) -> HttpResponse:
    connection = _connection(org, connection_id)
    if not connection.is_saml:
        raise NotFound("OpenID Connect connections have no certificates to manage.")
    form = CertificateForm(request.POST or None)
    status = 200
    if request.method == "POST":
        cert = form.is_valid() and _submitted(
            form,
            lambda: services.add_certificate(
                actor=membership, org=org, connection_id=connection.pk, pem=form.cleaned_data["pem"]
            ),
            "pem",
        )
        if cert:
            messages.success(
                request,
                f"The certificate {cert.fingerprint_sha256[:23]}… was added. Once your IdP signs "
                "with it, remove the old one.",
            )
            return redirect("orgs:sso-certificates", slug=org.slug, connection_id=connection.pk)
        status = 400
        connection = _connection(org, connection.pk)
    return _page(
        request,
        org,
        membership,
        connection,
        "sso/portal/step_certificates.html",
        "certificates",
        status=status,
        form=form,
        certificates=list(connection.certificates.all()),
        warnings=certificate_warnings(connection),
        now=timezone.now(),
        sp_certificate=_sp_certificate(connection),
        sp_next_certificate=(
            certificates.read_certificate(connection.sp_next_certificate)
            if connection.sp_next_certificate
            else None
        ),
    )


_SP_KEY_STEPS = {
    "start": (
        services.start_sp_key_rotation,
        "Gatehouse's next certificate is in the metadata now. Give your IdP the new metadata "
        "(or the new certificate), then finish the rotation.",
    ),
    "finish": (
        services.finish_sp_key_rotation,
        "Gatehouse now signs with its new key; the old one is gone.",
    ),
    "cancel": (services.cancel_sp_key_rotation, "The rotation was cancelled."),
}


@org_page(Perm.MANAGE_SSO)
@require_POST
def sp_key(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int, step: str
) -> HttpResponse:
    """Rotate Gatehouse's own key pair for a SAML connection: start, finish or cancel."""
    connection = _connection(org, connection_id)
    if step not in _SP_KEY_STEPS:
        raise NotFound()
    action, done = _SP_KEY_STEPS[step]
    try:
        action(actor=membership, org=org, connection_id=connection.pk)
    except Refusal as exc:
        _refused_unless_shown(request, exc)
    else:
        messages.success(request, done)
    return redirect("orgs:sso-certificates", slug=org.slug, connection_id=connection.pk)


@org_page(Perm.MANAGE_SSO)
@require_POST
def certificate_remove(
    request: HttpRequest,
    org: Organization,
    membership: Membership,
    connection_id: int,
    certificate_id: int,
) -> HttpResponse:
    connection = _connection(org, connection_id)
    try:
        services.remove_certificate(
            actor=membership, org=org, connection_id=connection.pk, certificate_id=certificate_id
        )
    except Refusal as exc:
        _refused_unless_shown(request, exc)
    else:
        messages.success(request, "The certificate was removed.")
    return redirect("orgs:sso-certificates", slug=org.slug, connection_id=connection.pk)


# --- Step 5: test, turn on and off, delete --------------------------------------------------------


@org_page(Perm.MANAGE_SSO)
@require_http_methods(["GET"])
def connection_page(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int
) -> HttpResponse:
    connection = _connection(org, connection_id)
    return _page(
        request,
        org,
        membership,
        connection,
        "sso/portal/connection.html",
        "connection",
        warnings=certificate_warnings(connection) if connection.is_saml else [],
        testable=not [m for m in services.missing_settings(connection) if "domain" not in m],
    )


@org_page(Perm.MANAGE_SSO)
@require_POST
def test_connection(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int
) -> HttpResponse:
    """Start a real login through the connection, marked in this admin's session as a test:
    it ends on a diagnostic page (sso.logins.test_result) instead of in a session."""
    connection = _connection(org, connection_id)
    try:
        services.start_test(actor=membership, org=org, request=request, connection_id=connection.pk)
    except Refusal as exc:
        _refused_unless_shown(request, exc)
        return redirect("orgs:sso-connection", slug=org.slug, connection_id=connection.pk)
    provider = get_adapter(request).get_provider(request, connection.slug)
    try:
        return provider.redirect(request, AuthProcess.LOGIN)
    except ImmediateHttpResponse as answer:
        # A refusal page (e.g. the discovery document could not be read): returned, not
        # raised, so the request's transaction keeps its audit event.
        return answer.response
    except (OneLogin_Saml2_Error, ValueError) as exc:
        messages.error(request, f"The test could not start: {exc}")
        return redirect("orgs:sso-connection", slug=org.slug, connection_id=connection.pk)


@org_page(Perm.MANAGE_SSO)
@require_POST
def activate(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int
) -> HttpResponse:
    connection = _connection(org, connection_id)
    try:
        services.activate(actor=membership, org=org, connection_id=connection.pk)
    except Refusal as exc:
        _refused_unless_shown(request, exc)
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
    connection = _connection(org, connection_id)
    services.disable(actor=membership, org=org, connection_id=connection.pk)
    messages.success(request, f"{connection.name} is off: nobody can sign in with it.")
    return redirect("orgs:sso-connection", slug=org.slug, connection_id=connection.pk)


@org_page(Perm.MANAGE_SSO)
@require_http_methods(["GET", "POST"])
def delete(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int
) -> HttpResponse:
    """GET: what deleting takes away, and the confirmation. POST: delete."""
    connection = _connection(org, connection_id)
    if request.method == "POST":
        try:
            services.delete_connection(actor=membership, org=org, connection_id=connection.pk)
        except Refusal as exc:
            _refused_unless_shown(request, exc)
            return redirect("orgs:sso-delete", slug=org.slug, connection_id=connection.pk)
        messages.success(request, f"{connection.name} was deleted.")
        return redirect("orgs:sso", slug=org.slug)
    return render(
        request,
        "sso/portal/delete.html",
        _context(
            org,
            membership,
            tab="sso",
            connection=connection,
            identities=SocialAccount.objects.filter(provider=connection.slug).count(),
        ),
    )


urlpatterns = [
    path("", connection_list, name="sso"),
    path("new/", new_connection, name="sso-new"),
    path("<int:connection_id>/", connection_page, name="sso-connection"),
    path("<int:connection_id>/setup/", sp_step, name="sso-sp"),
    path("<int:connection_id>/idp/", idp_step, name="sso-idp"),
    path("<int:connection_id>/idp/metadata-url/", metadata_url, name="sso-metadata-url"),
    path("<int:connection_id>/idp/metadata-file/", metadata_file, name="sso-metadata-file"),
    path("<int:connection_id>/idp/metadata-stop/", metadata_stop, name="sso-metadata-stop"),
    path("<int:connection_id>/accounts/", accounts_step, name="sso-accounts"),
    path("<int:connection_id>/certificates/", certificates_step, name="sso-certificates"),
    path(
        "<int:connection_id>/certificates/<int:certificate_id>/remove/",
        certificate_remove,
        name="sso-certificate-remove",
    ),
    path(
        "<int:connection_id>/sp-key/<str:step>/",
        sp_key,
        name="sso-sp-key",
    ),
    path("<int:connection_id>/test/", test_connection, name="sso-test"),
    path("<int:connection_id>/activate/", activate, name="sso-activate"),
    path("<int:connection_id>/disable/", disable, name="sso-disable"),
    path("<int:connection_id>/delete/", delete, name="sso-delete"),
]
