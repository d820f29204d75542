"""Plain builders for SSO tests: an organization with a verified domain and its connections,
made through the same services the portal uses."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.test import RequestFactory
from django.utils import timezone

from organizations import services as org_services
from organizations.models import Domain, Membership, Organization
from sso import services
from sso.models import Connection
from tests.factories import UserFactory

HOST = "id.gatehouse.test"


def org_with_domain(
    slug: str = "acme", domain: str = "acme.test"
) -> tuple[Organization, Membership]:
    owner = UserFactory(email=f"owner@{domain}")
    org = org_services.create_organization(actor=owner, name=slug.title(), slug=slug)
    Domain.objects.create(
        organization=org, name=domain, verification_token="t" * 32, verified_at=timezone.now()
    )
    return org, Membership.objects.get(organization=org, user=owner)


def request():
    return RequestFactory().get("/", HTTP_HOST=HOST, secure=True)


def certificate(days: int = 365, name: str = "Test IdP") -> str:
    """A self-signed certificate PEM valid for ``days`` more days."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def saml_connection(
    org: Organization,
    actor: Membership,
    *,
    active: bool = True,
    name: str = "Okta",
    sso_url: str = "https://idp.example.net/sso",
) -> Connection:
    connection = services.create_connection(
        actor=actor, org=org, site_url=request().build_absolute_uri("/"), protocol="saml", name=name
    )
    services.update_saml(
        actor=actor,
        org=org,
        connection_id=connection.pk,
        name=name,
        idp_entity_id="https://idp.example.net/metadata",
        idp_sso_url=sso_url,
    )
    services.add_certificate(actor=actor, org=org, connection_id=connection.pk, pem=certificate())
    if active:
        services.activate(actor=actor, org=org, connection_id=connection.pk)
    connection.refresh_from_db()
    return connection


def pem_body(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if "CERTIFICATE" not in line)


def idp_metadata(
    certificates: list[str],
    *,
    entity_id: str = "https://idp.example.net/metadata",
    sso_url: str = "https://idp.example.net/sso",
    slo_url: str = "",
) -> bytes:
    keys = "".join(
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
        f"{pem_body(pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for pem in certificates
    )
    slo = (
        '<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f'Location="{slo_url}"/>'
        if slo_url
        else ""
    )
    return (
        '<?xml version="1.0"?>'
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f"{keys}{slo}"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f'Location="{sso_url}"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    ).encode()
