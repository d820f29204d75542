"""A SAML connection's IdP side: its settings typed by hand, its metadata (uploaded, read from
a URL, re-read by the beat job) and its signing certificates.

Metadata URLs are read before any transaction opens: the IdP's round trip never holds a row
lock or, on SQLite, the database's write lock. The short write that follows re-reads the
connection under a lock.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from audit.actions import Action, Outcome
from audit.services import record
from config.refusals import NotFound, Refusal, service
from organizations.models import Membership, Organization
from organizations.permissions import Perm
from organizations.services import require
from sso import certificates, fetch
from sso.models import Connection, IdPCertificate
from sso.services.common import (
    audit,
    changed_fields,
    clean_attribute,
    clean_name,
    clean_url,
    connection_of_org,
    locked_connection,
)

MAX_METADATA_BYTES = 1024 * 1024
METADATA_TYPES = "application/samlmetadata+xml, application/xml"


def locked_saml_connection(org: Organization, connection_id: Any) -> Connection:
    connection = locked_connection(org, connection_id)
    if not connection.is_saml:
        raise Refusal("This is not a SAML connection.")
    return connection


# --- Settings by hand ---------------------------------------------------------------------------


def _saml_fields(connection: Connection) -> dict:
    return {
        f: getattr(connection, f)
        for f in (
            "name",
            "idp_entity_id",
            "idp_sso_url",
            "idp_slo_url",
            "email_attribute",
            "first_name_attribute",
            "last_name_attribute",
            "allow_idp_initiated",
            "metadata_url",
        )
    }


@service
def update_saml(
    *,
    actor: Membership,
    org: Organization,
    connection_id: Any,
    name: str,
    idp_entity_id: str,
    idp_sso_url: str,
    idp_slo_url: str = "",
    email_attribute: str = "",
    first_name_attribute: str = "",
    last_name_attribute: str = "",
    allow_idp_initiated: bool = False,
    certificate: str = "",
) -> Connection:
    """The IdP's settings, typed by hand. A ``certificate`` (PEM) typed next to them is added
    in the same change: when it is refused, the settings are not kept either."""
    require(actor, org, Perm.MANAGE_SSO, "sso.update_connection")
    connection = locked_saml_connection(org, connection_id)
    before = _saml_fields(connection)
    connection.name = clean_name(name)
    connection.idp_entity_id = (idp_entity_id or "").strip()[:500]
    if not connection.idp_entity_id:
        raise Refusal("Enter the IdP's entity ID (its issuer).")
    connection.idp_sso_url = clean_url(idp_sso_url, "IdP sign-on URL", required=True)
    connection.idp_slo_url = clean_url(idp_slo_url, "IdP logout URL")
    connection.email_attribute = clean_attribute(email_attribute, "email attribute")
    connection.first_name_attribute = clean_attribute(first_name_attribute, "first-name attribute")
    connection.last_name_attribute = clean_attribute(last_name_attribute, "last-name attribute")
    connection.allow_idp_initiated = bool(allow_idp_initiated)
    connection.save()
    audit(
        Action.SSO_CONNECTION_UPDATED,
        actor,
        connection,
        changed=changed_fields(before, _saml_fields(connection)),
    )
    if certificate:
        _add_certificate(actor, connection, certificate)
    return connection


# --- Signing certificates -----------------------------------------------------------------------


def store_certificate(connection: Connection, text: str, source: str) -> IdPCertificate:
    """Keep a current IdP certificate (once: the fingerprint identifies it)."""
    try:
        info = certificates.read_certificate(text)
    except certificates.BadCertificate as exc:
        raise Refusal(str(exc)) from None
    if info.not_after <= timezone.now():
        raise Refusal(f"That certificate expired on {info.not_after:%Y-%m-%d}.")
    cert, _ = IdPCertificate.objects.get_or_create(
        connection=connection,
        fingerprint_sha256=info.fingerprint_sha256,
        defaults={
            "der_base64": info.der_base64,
            "subject": info.subject,
            "not_before": info.not_before,
            "not_after": info.not_after,
            "source": source,
        },
    )
    return cert


def _add_certificate(actor: Membership, connection: Connection, pem: str) -> IdPCertificate:
    cert = store_certificate(connection, pem, IdPCertificate.Source.UPLOADED)
    audit(
        Action.SSO_CERTIFICATE_ADDED,
        actor,
        connection,
        fingerprint=cert.fingerprint_sha256,
        not_after=cert.not_after.isoformat(),
    )
    return cert


@service
def add_certificate(
    *, actor: Membership, org: Organization, connection_id: Any, pem: str
) -> IdPCertificate:
    require(actor, org, Perm.MANAGE_SSO, "sso.add_certificate")
    return _add_certificate(actor, locked_saml_connection(org, connection_id), pem)


@service
def remove_certificate(
    *, actor: Membership, org: Organization, connection_id: Any, certificate_id: Any
) -> None:
    require(actor, org, Perm.MANAGE_SSO, "sso.remove_certificate")
    connection = locked_connection(org, connection_id)
    try:
        cert = connection.certificates.get(pk=int(certificate_id))
    except (IdPCertificate.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such certificate.") from None
    if connection.is_active and connection.certificates.count() == 1:
        raise Refusal(
            "This is the connection's only certificate: add the new one before removing it, "
            "or turn the connection off first."
        )
    fingerprint = cert.fingerprint_sha256
    cert.delete()
    audit(Action.SSO_CERTIFICATE_REMOVED, actor, connection, fingerprint=fingerprint)


# --- Metadata -----------------------------------------------------------------------------------


def parse_idp_metadata(xml: bytes | str) -> dict:
    """The IdP's entity id, endpoints and signing certificates from its metadata XML."""
    if isinstance(xml, str):
        xml = xml.encode()
    if not xml.strip():
        raise Refusal("The metadata is empty.")
    if len(xml) > MAX_METADATA_BYTES:
        raise Refusal("The metadata is larger than 1 MB.")
    # Untrusted XML: any failure of the parser means "not metadata", a refusal and not a 500.
    # Its errors are no closed set (lxml's, python3-saml's DTD and entity refusals, and an
    # AttributeError for an empty <X509Certificate/>), so the catch is deliberately broad.
    try:
        # python3-saml's parser refuses DTDs and entity expansion.
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(
            xml, required_sso_binding=OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT
        )
    except Exception as exc:  # noqa: BLE001
        raise Refusal(f"That is not SAML IdP metadata ({type(exc).__name__}).") from None
    idp = parsed.get("idp") or {}
    sso = (idp.get("singleSignOnService") or {}).get("url")
    if not idp.get("entityId") or not sso:
        raise Refusal(
            "The metadata has no IdP entity ID or no sign-on URL with the HTTP-Redirect binding."
        )
    certs = list((idp.get("x509certMulti") or {}).get("signing") or [])
    if idp.get("x509cert"):
        certs.append(idp["x509cert"])
    if not certs:
        raise Refusal("The metadata has no signing certificate.")
    return {
        "entity_id": idp["entityId"],
        "sso_url": sso,
        "slo_url": (idp.get("singleLogoutService") or {}).get("url", ""),
        "certificates": certs,
    }


def read_metadata_url(url: str) -> bytes:
    """The metadata document at ``url`` (Gatehouse's fetch rules: public addresses only)."""
    try:
        return fetch.fetch(url, accept=METADATA_TYPES)
    except fetch.FetchError as exc:
        raise Refusal(f"Could not read the metadata URL: {exc}") from None


def apply_metadata(connection: Connection, meta: dict) -> dict:
    """Take the IdP's settings and certificates from parsed metadata; returns what changed."""
    connection.idp_entity_id = meta["entity_id"][:500]
    connection.idp_sso_url = clean_url(meta["sso_url"], "IdP sign-on URL", required=True)
    connection.idp_slo_url = clean_url(meta["slo_url"], "IdP logout URL")
    kept: list[int] = []
    for text in meta["certificates"]:
        try:
            kept.append(store_certificate(connection, text, IdPCertificate.Source.METADATA).pk)
        except Refusal:
            continue  # an expired certificate next to a current one is normal during rotation
    if not kept:
        raise Refusal("Every signing certificate in the metadata has expired or is unreadable.")
    # Certificates that came from metadata and are no longer in it are gone at the IdP too.
    removed = (
        connection.certificates.filter(source=IdPCertificate.Source.METADATA)
        .exclude(pk__in=kept)
        .delete()[0]
    )
    connection.metadata_fetched_at = timezone.now()
    connection.metadata_error = ""
    connection.save()
    return {"certificates": len(kept), "certificates_removed": removed}


@service(durable=False)
def _may_import(*, actor: Membership, org: Organization, connection_id: Any) -> None:
    """Refuse (on the record) before anything is fetched for an import that would be refused."""
    require(actor, org, Perm.MANAGE_SSO, "sso.import_metadata")
    if not connection_of_org(org, connection_id).is_saml:
        raise Refusal("This is not a SAML connection.")


def import_metadata(
    *,
    actor: Membership,
    org: Organization,
    connection_id: Any,
    xml: bytes | str = b"",
    url: str = "",
) -> Connection:
    """Set a SAML connection up from the IdP's metadata, uploaded or at a URL (which the
    ``refresh_saml_metadata`` job then re-reads every few hours). The URL is read, and the
    metadata parsed, before the write's transaction opens."""
    _may_import(actor=actor, org=org, connection_id=connection_id)
    if url:
        url = clean_url(url, "metadata URL", required=True)
        xml = read_metadata_url(url)
    return _store_metadata(
        actor=actor, org=org, connection_id=connection_id, meta=parse_idp_metadata(xml), url=url
    )


@service
def _store_metadata(
    *, actor: Membership, org: Organization, connection_id: Any, meta: dict, url: str
) -> Connection:
    require(actor, org, Perm.MANAGE_SSO, "sso.import_metadata")
    connection = locked_saml_connection(org, connection_id)
    # An uploaded file replaces a URL: no more refreshes.
    connection.metadata_url = url
    summary = apply_metadata(connection, meta)
    audit(
        Action.SSO_CONNECTION_UPDATED,
        actor,
        connection,
        changed=["metadata"],
        source="url" if url else "upload",
        **summary,
    )
    return connection


@service
def stop_metadata_refresh(
    *, actor: Membership, org: Organization, connection_id: Any
) -> Connection:
    """Stop re-reading the metadata URL: the settings it last gave stay, and are the admin's."""
    require(actor, org, Perm.MANAGE_SSO, "sso.update_connection")
    connection = locked_connection(org, connection_id)
    if connection.metadata_url:
        connection.metadata_url = ""
        connection.metadata_error = ""
        connection.save(update_fields=["metadata_url", "metadata_error", "updated_at"])
        audit(Action.SSO_CONNECTION_UPDATED, actor, connection, changed=["metadata_url"])
    return connection


def refresh_metadata(connection_id: int) -> bool:
    """The beat job's step for one connection: re-read its metadata URL. A failure is kept on
    the connection (shown in the portal) and audited; the last good settings stay in use.
    The URL is read with no transaction open; the result is written in a short one."""
    url = Connection.objects.filter(pk=connection_id).values_list("metadata_url", flat=True).first()
    if not url:
        return False
    try:
        meta: dict | None = parse_idp_metadata(fetch.fetch(url, accept=METADATA_TYPES))
        error = ""
    except (fetch.FetchError, Refusal) as exc:
        meta, error = None, str(exc)
    return store_refreshed(connection_id, url, meta, error)


@service
def store_refreshed(connection_id: int, url: str, meta: dict | None, error: str) -> bool:
    """What reading ``url`` gave (parsed metadata, or the error), written if the connection
    still reads that URL: the admin may have changed or stopped it while it was being read."""
    connection = Connection.objects.select_for_update().filter(pk=connection_id).first()
    if connection is None or connection.metadata_url != url:
        return False  # deleted, or pointed elsewhere while the old URL was being read
    if meta is not None:
        try:
            with transaction.atomic():
                summary = apply_metadata(connection, meta)
        except Refusal as exc:
            error = str(exc)
        else:
            audit(Action.SSO_METADATA_REFRESHED, None, connection, **summary)
            return True
    connection.metadata_error = error[:500]
    connection.save(update_fields=["metadata_error", "updated_at"])
    record(
        Action.SSO_METADATA_REFRESH_FAILED,
        actor_text="system",
        organization=connection.organization,
        target=connection,
        outcome=Outcome.FAILURE,
        data={"connection": connection.slug, "error": connection.metadata_error},
    )
    return False
