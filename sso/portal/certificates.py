"""Step 4 of the wizard (SAML): the IdP's signing certificates, and Gatehouse's own key pair
for the connection with its rotation."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from config.refusals import NotFound, Refusal
from organizations.models import Membership, Organization
from organizations.permissions import Perm
from sso import services
from sso.forms import CertificateForm
from sso.portal.pages import (
    certificate_warnings,
    connection_for_page,
    org_page,
    show_refusal,
    sp_certificate,
    submit,
    wizard_page,
)


@org_page(Perm.MANAGE_SSO)
@require_http_methods(["GET", "POST"])
def certificates_step(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int
) -> HttpResponse:
    connection = connection_for_page(org, connection_id)
    if not connection.is_saml:
        raise NotFound("OpenID Connect connections have no certificates to manage.")
    form = CertificateForm(request.POST or None)
    status = 200
    if request.method == "POST":
        cert = form.is_valid() and submit(
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
        connection = connection_for_page(org, connection.pk)
    return wizard_page(
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
        sp_certificate=sp_certificate(connection.sp_certificate),
        sp_next_certificate=sp_certificate(connection.sp_next_certificate),
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
    connection = connection_for_page(org, connection_id)
    if step not in _SP_KEY_STEPS:
        raise NotFound()
    action, done = _SP_KEY_STEPS[step]
    try:
        action(actor=membership, org=org, connection_id=connection.pk)
    except Refusal as exc:
        show_refusal(request, exc)
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
    connection = connection_for_page(org, connection_id)
    try:
        services.remove_certificate(
            actor=membership, org=org, connection_id=connection.pk, certificate_id=certificate_id
        )
    except Refusal as exc:
        show_refusal(request, exc)
    else:
        messages.success(request, "The certificate was removed.")
    return redirect("orgs:sso-certificates", slug=org.slug, connection_id=connection.pk)
