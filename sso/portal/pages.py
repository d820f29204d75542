"""What every page of the SSO portal shares: the connection, fetched for the organization; the
wizard's steps and the page around each; the values and warnings the steps show.

The organization and the membership come from ``org_page`` (the organizations portal), and
connections are fetched ``for_org(org)``. Nothing secret is rendered: not the client secret,
not the SP's private key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from config.refusals import NotFound, Refusal
from organizations.models import Membership, Organization
from organizations.pages import org_page, page_context, submitted
from sso import certificates, services
from sso.models import Connection, IdPCertificate

__all__ = ["org_page"]

EXPIRY_WARNING_DAYS = max(services.WARN_DAYS)


def sso_context(org: Organization, membership: Membership, **extra: Any) -> dict[str, Any]:
    """The organization portal's page context, on its SSO tab."""
    return page_context(org, membership, tab="sso", **extra)


def submit(form: Any, call: Callable[[], Any], field: str | None = None) -> Any:
    """Run a service with a valid form's data: its result, or None with the refusal shown on
    the form (an access refusal goes up to the portal's error page)."""
    return submitted(form, call, field)


def connection_for_page(org: Organization, connection_id: int) -> Connection:
    try:
        return (
            Connection.objects.for_org(org)
            .prefetch_related("domains", "certificates")
            .get(pk=connection_id)
        )
    except Connection.DoesNotExist:
        raise NotFound("No such connection.") from None


def show_refusal(request: HttpRequest, exc: Refusal) -> None:
    """An access refusal or an unknown object goes up to ``org_page`` (403 page, 404); any
    other refusal is the admin's to fix and is shown as a message."""
    if exc.status in (403, 404):
        raise exc
    messages.error(request, str(exc))


# --- The wizard ---------------------------------------------------------------------------------


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


def current_certificates(connection: Connection) -> list[IdPCertificate]:
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
            Step(4, "certificates", "Signing certificates", bool(current_certificates(connection)))
        )
    found.append(Step(len(found) + 1, "connection", "Test and turn on", connection.is_active))
    return found


def wizard_page(
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
    """A step of the wizard, with the steps around it."""
    all_steps = steps(connection)
    current = next(s for s in all_steps if s.key == step)
    following = next((s for s in all_steps if s.number == current.number + 1), None)
    context = sso_context(
        org,
        membership,
        connection=connection,
        steps=all_steps,
        step=current,
        next_step=following,
        missing=services.missing_settings(connection),
        **extra,
    )
    return render(request, template, context, status=status)


def next_url(org: Organization, connection: Connection, after: str) -> str:
    keys = [s.key for s in steps(connection)]
    following = keys[keys.index(after) + 1]
    return reverse(f"orgs:sso-{following}", args=[org.slug, connection.pk])


# --- What the steps show ------------------------------------------------------------------------


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


def sp_certificate(pem: str) -> certificates.CertificateInfo | None:
    """What Gatehouse's own certificate for a connection says, if there is a readable one."""
    if not pem:
        return None
    try:
        return certificates.read_certificate(pem)
    except certificates.BadCertificate:
        return None
