"""The write path for SSO connections: create, configure, test, turn on and off, certificates,
metadata. Same shape as organizations.services: the acting membership and the organization
are explicit, permission is checked first, each call is one transaction with its audit event,
and refusals raise ``Refusal`` (audited when they are access refusals).
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import timedelta
from typing import Any

from allauth.socialaccount.models import SocialAccount
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from audit.actions import Action, Outcome
from audit.services import record
from config import encryption
from config.refusals import NotFound, Refusal, service
from organizations.models import Domain, Membership, Organization, Role
from organizations.permissions import Perm
from organizations.services import require
from sso import certificates, fetch
from sso.models import ID_TOKEN_ALGORITHMS, Connection, IdPCertificate, MFATrust, Protocol, Status

WELL_KNOWN = "/.well-known/openid-configuration"
DEFAULT_ALGORITHM = "RS256"
DEFAULT_TOKEN_AUTH = "client_secret_basic"  # noqa: S105 (a method name, not a secret)
MAX_METADATA_BYTES = 1024 * 1024
_ATTRIBUTE_NAME = re.compile(r"^[\w.:/#@+-]{1,200}$")


def _changes(before: dict, after: dict) -> list[str]:
    return sorted(k for k in after if before.get(k) != after.get(k))


def _connection(org: Organization, connection_id: Any) -> Connection:
    try:
        return Connection.objects.for_org(org).select_for_update().get(pk=int(connection_id))
    except (Connection.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such connection.") from None


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise Refusal("Give the connection a name, such as “Okta” or “Entra ID”.")
    if len(name) > 120:
        raise Refusal("The name is too long (120 characters at most).")
    return name


def _clean_url(value: str, label: str, *, required: bool = False) -> str:
    value = (value or "").strip()
    if not value:
        if required:
            raise Refusal(f"Enter the {label}.")
        return ""
    try:
        URLValidator(schemes=["https", "http"])(value)
    except ValidationError:
        raise Refusal(f"The {label} is not a URL.") from None
    if len(value) > 1000:
        raise Refusal(f"The {label} is too long.")
    return value


def _clean_attribute(value: str, label: str) -> str:
    value = (value or "").strip()
    if value and not _ATTRIBUTE_NAME.match(value):
        raise Refusal(f"The {label} is not a valid attribute name.")
    return value


def _audit(action: Action, actor: Membership | None, connection: Connection, **data: Any) -> None:
    record(
        action,
        actor=actor.user if actor else None,
        actor_text="" if actor else "system",
        organization=connection.organization,
        target=connection,
        data={"connection": connection.slug, **data},
    )


# --- Creating ---------------------------------------------------------------------------------


def _new_slug(org: Organization) -> str:
    while True:
        slug = f"{org.slug}-{secrets.token_hex(3)}"
        if not Connection.objects.filter(slug=slug).exists():
            return slug


@service
def create_connection(
    *, actor: Membership, org: Organization, request: HttpRequest, protocol: str, name: str
) -> Connection:
    require(actor, org, Perm.MANAGE_SSO, "sso.create_connection")
    if protocol not in Protocol.values:
        raise Refusal("Choose SAML or OpenID Connect.")
    connection = Connection(
        organization=org,
        protocol=protocol,
        name=_clean_name(name),
        slug=_new_slug(org),
        created_by=actor.user,
    )
    if protocol == Protocol.SAML:
        metadata_path = reverse("saml_metadata", kwargs={"organization_slug": connection.slug})
        # Fixed now: the IdP keeps it. It must not follow the Host header of later requests.
        connection.sp_entity_id = request.build_absolute_uri(metadata_path)
        cert_pem, key_pem = certificates.new_sp_key_pair(f"Gatehouse {connection.slug}")
        connection.sp_certificate = cert_pem
        connection.sp_private_key_encrypted = encryption.encrypt(key_pem)
    connection.save()
    # By default a connection serves every verified domain of its organization.
    connection.domains.set(Domain.objects.for_org(org).filter(verified_at__isnull=False))
    _audit(
        Action.SSO_CONNECTION_CREATED, actor, connection, protocol=protocol, name=connection.name
    )
    return connection


# --- SAML -------------------------------------------------------------------------------------


def _store_certificate(connection: Connection, text: str, source: str) -> IdPCertificate:
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
) -> Connection:
    require(actor, org, Perm.MANAGE_SSO, "sso.update_connection")
    connection = _connection(org, connection_id)
    if not connection.is_saml:
        raise Refusal("This is not a SAML connection.")
    before = _saml_fields(connection)
    connection.name = _clean_name(name)
    connection.idp_entity_id = (idp_entity_id or "").strip()[:500]
    if not connection.idp_entity_id:
        raise Refusal("Enter the IdP's entity ID (its issuer).")
    connection.idp_sso_url = _clean_url(idp_sso_url, "IdP sign-on URL", required=True)
    connection.idp_slo_url = _clean_url(idp_slo_url, "IdP logout URL")
    connection.email_attribute = _clean_attribute(email_attribute, "email attribute")
    connection.first_name_attribute = _clean_attribute(first_name_attribute, "first-name attribute")
    connection.last_name_attribute = _clean_attribute(last_name_attribute, "last-name attribute")
    connection.allow_idp_initiated = bool(allow_idp_initiated)
    connection.save()
    _audit(
        Action.SSO_CONNECTION_UPDATED,
        actor,
        connection,
        changed=_changes(before, _saml_fields(connection)),
    )
    return connection


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


def parse_idp_metadata(xml: bytes | str) -> dict:
    """The IdP's entity id, endpoints and signing certificates from its metadata XML."""
    if isinstance(xml, str):
        xml = xml.encode()
    if not xml.strip():
        raise Refusal("The metadata is empty.")
    if len(xml) > MAX_METADATA_BYTES:
        raise Refusal("The metadata is larger than 1 MB.")
    try:
        # python3-saml's parser refuses DTDs and entity expansion.
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(
            xml, required_sso_binding=OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT
        )
    except Exception as exc:  # lxml's, python3-saml's and defusedxml's errors alike
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


def _apply_metadata(connection: Connection, meta: dict) -> dict:
    connection.idp_entity_id = meta["entity_id"][:500]
    connection.idp_sso_url = _clean_url(meta["sso_url"], "IdP sign-on URL", required=True)
    connection.idp_slo_url = _clean_url(meta["slo_url"], "IdP logout URL")
    kept: list[int] = []
    for text in meta["certificates"]:
        try:
            kept.append(_store_certificate(connection, text, IdPCertificate.Source.METADATA).pk)
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


@service
def import_metadata(
    *,
    actor: Membership,
    org: Organization,
    connection_id: Any,
    xml: bytes | str = b"",
    url: str = "",
) -> Connection:
    """Set a SAML connection up from the IdP's metadata, uploaded or at a URL (which the
    ``refresh_saml_metadata`` job then re-reads every few hours)."""
    require(actor, org, Perm.MANAGE_SSO, "sso.import_metadata")
    connection = _connection(org, connection_id)
    if not connection.is_saml:
        raise Refusal("This is not a SAML connection.")
    if url:
        url = _clean_url(url, "metadata URL", required=True)
        try:
            xml = fetch.fetch(url, accept="application/samlmetadata+xml, application/xml")
        except fetch.FetchError as exc:
            raise Refusal(f"Could not read the metadata URL: {exc}") from None
        connection.metadata_url = url
    else:
        connection.metadata_url = ""  # an uploaded file replaces a URL: no more refreshes
    summary = _apply_metadata(connection, parse_idp_metadata(xml))
    _audit(
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
    connection = _connection(org, connection_id)
    if connection.metadata_url:
        connection.metadata_url = ""
        connection.metadata_error = ""
        connection.save(update_fields=["metadata_url", "metadata_error", "updated_at"])
        _audit(Action.SSO_CONNECTION_UPDATED, actor, connection, changed=["metadata_url"])
    return connection


def refresh_metadata(connection_id: int) -> bool:
    """The beat job's step for one connection: re-read its metadata URL. A failure is kept on
    the connection (shown in the portal) and audited; the last good settings stay in use."""
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=connection_id)
        if not connection.metadata_url:
            return False
        try:
            xml = fetch.fetch(
                connection.metadata_url, accept="application/samlmetadata+xml, application/xml"
            )
            with transaction.atomic():
                summary = _apply_metadata(connection, parse_idp_metadata(xml))
        except (fetch.FetchError, Refusal) as exc:
            connection.metadata_error = str(exc)[:500]
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
        record(
            Action.SSO_METADATA_REFRESHED,
            actor_text="system",
            organization=connection.organization,
            target=connection,
            data={"connection": connection.slug, **summary},
        )
        return True


@service
def add_certificate(
    *, actor: Membership, org: Organization, connection_id: Any, pem: str
) -> IdPCertificate:
    require(actor, org, Perm.MANAGE_SSO, "sso.add_certificate")
    connection = _connection(org, connection_id)
    if not connection.is_saml:
        raise Refusal("This is not a SAML connection.")
    cert = _store_certificate(connection, pem, IdPCertificate.Source.UPLOADED)
    _audit(
        Action.SSO_CERTIFICATE_ADDED,
        actor,
        connection,
        fingerprint=cert.fingerprint_sha256,
        not_after=cert.not_after.isoformat(),
    )
    return cert


@service
def remove_certificate(
    *, actor: Membership, org: Organization, connection_id: Any, certificate_id: Any
) -> None:
    require(actor, org, Perm.MANAGE_SSO, "sso.remove_certificate")
    connection = _connection(org, connection_id)
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
    _audit(Action.SSO_CERTIFICATE_REMOVED, actor, connection, fingerprint=fingerprint)


# --- Gatehouse's own SAML key -----------------------------------------------------------------


def _saml_connection(org: Organization, connection_id: Any) -> Connection:
    connection = _connection(org, connection_id)
    if not connection.is_saml:
        raise Refusal("This is not a SAML connection.")
    return connection


@service
def start_sp_key_rotation(
    *, actor: Membership, org: Organization, connection_id: Any
) -> Connection:
    """Make Gatehouse's next key pair for this connection. The SP metadata offers both
    certificates until the rotation is finished; requests are still signed with the current key."""
    require(actor, org, Perm.MANAGE_SSO, "sso.rotate_sp_key")
    connection = _saml_connection(org, connection_id)
    if connection.sp_next_certificate:
        raise Refusal("A rotation is already under way: finish or cancel it first.")
    cert_pem, key_pem = certificates.new_sp_key_pair(f"Gatehouse {connection.slug}")
    connection.sp_next_certificate = cert_pem
    connection.sp_next_private_key_encrypted = encryption.encrypt(key_pem)
    connection.save()
    info = certificates.read_certificate(cert_pem)
    _audit(
        Action.SSO_SP_KEY_ROTATION_STARTED, actor, connection, fingerprint=info.fingerprint_sha256
    )
    return connection


@service
def finish_sp_key_rotation(
    *, actor: Membership, org: Organization, connection_id: Any
) -> Connection:
    """The next key becomes Gatehouse's key for this connection (once the IdP has the new
    metadata or certificate); the old one is forgotten."""
    require(actor, org, Perm.MANAGE_SSO, "sso.rotate_sp_key")
    connection = _saml_connection(org, connection_id)
    if not connection.sp_next_certificate:
        raise Refusal("No rotation is under way.")
    connection.sp_certificate = connection.sp_next_certificate
    connection.sp_private_key_encrypted = connection.sp_next_private_key_encrypted
    connection.sp_next_certificate = ""
    connection.sp_next_private_key_encrypted = ""
    connection.save()
    info = certificates.read_certificate(connection.sp_certificate)
    _audit(Action.SSO_SP_KEY_ROTATED, actor, connection, fingerprint=info.fingerprint_sha256)
    return connection


@service
def cancel_sp_key_rotation(
    *, actor: Membership, org: Organization, connection_id: Any
) -> Connection:
    require(actor, org, Perm.MANAGE_SSO, "sso.rotate_sp_key")
    connection = _saml_connection(org, connection_id)
    if connection.sp_next_certificate:
        connection.sp_next_certificate = ""
        connection.sp_next_private_key_encrypted = ""
        connection.save()
        _audit(Action.SSO_SP_KEY_ROTATION_CANCELLED, actor, connection)
    return connection


# --- OIDC -------------------------------------------------------------------------------------


def issuer_of(discovery_url: str) -> str:
    return (
        discovery_url[: -len(WELL_KNOWN)] if discovery_url.endswith(WELL_KNOWN) else discovery_url
    )


def read_discovery(discovery_url: str, algorithm: str) -> dict:
    """Fetch and check an IdP's discovery document before a connection relies on it."""
    try:
        doc = json.loads(fetch.fetch(discovery_url, accept="application/json"))
    except fetch.FetchError as exc:
        raise Refusal(f"Could not read the discovery document: {exc}") from None
    except ValueError:
        raise Refusal("The discovery document is not JSON.") from None
    if not isinstance(doc, dict):
        raise Refusal("The discovery document is not a JSON object.")
    expected = issuer_of(discovery_url)
    if doc.get("issuer") != expected:
        raise Refusal(
            f"The discovery document names the issuer {str(doc.get('issuer'))[:200]!r}, not "
            f"{expected!r}. Use the issuer's own discovery URL."
        )
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(doc.get(name), str):
            raise Refusal(f"The discovery document has no {name}.")
        try:
            fetch.check_url(doc[name])
        except fetch.FetchError as exc:
            raise Refusal(f"{name}: {exc}") from None
    methods = doc.get("code_challenge_methods_supported")
    if methods is not None and "S256" not in methods:
        raise Refusal("The IdP does not support PKCE with S256.")
    algorithms = doc.get("id_token_signing_alg_values_supported")
    if algorithms is not None and algorithm not in algorithms:
        raise Refusal(f"The IdP does not sign ID tokens with {algorithm}.")
    return doc


@service
def update_oidc(
    *,
    actor: Membership,
    org: Organization,
    connection_id: Any,
    name: str,
    discovery_url: str,
    client_id: str,
    client_secret: str = "",
    id_token_algorithm: str = DEFAULT_ALGORITHM,
    scopes: str = "openid email profile",
    token_auth_method: str = DEFAULT_TOKEN_AUTH,
    email_attribute: str = "",
) -> Connection:
    """Point an OIDC connection at its IdP. An empty ``client_secret`` keeps the stored one
    (it is never shown again)."""
    require(actor, org, Perm.MANAGE_SSO, "sso.update_connection")
    connection = _connection(org, connection_id)
    if not connection.is_oidc:
        raise Refusal("This is not an OpenID Connect connection.")
    discovery_url = _clean_url(discovery_url, "discovery URL", required=True)
    if WELL_KNOWN not in discovery_url:
        discovery_url = discovery_url.rstrip("/") + WELL_KNOWN
    if id_token_algorithm not in ID_TOKEN_ALGORITHMS:
        raise Refusal("Choose an asymmetric signing algorithm, such as RS256.")
    if token_auth_method not in ("client_secret_basic", "client_secret_post"):
        raise Refusal("Choose how Gatehouse authenticates to the token endpoint.")
    client_id = (client_id or "").strip()
    if not client_id or len(client_id) > 255:
        raise Refusal("Enter the client ID the IdP gave you.")
    scope_list = (scopes or "").split()
    if (
        "openid" not in scope_list
        or len(scopes) > 500
        or not all(re.fullmatch(r"[\x21\x23-\x5b\x5d-\x7e]+", s) for s in scope_list)
    ):
        raise Refusal("Scopes are space-separated and must include openid.")
    read_discovery(discovery_url, id_token_algorithm)
    before = {
        "name": connection.name,
        "discovery_url": connection.discovery_url,
        "client_id": connection.client_id,
        "id_token_algorithm": connection.id_token_algorithm,
        "scopes": connection.scopes,
        "token_auth_method": connection.token_auth_method,
        "email_attribute": connection.email_attribute,
    }
    connection.name = _clean_name(name)
    connection.email_attribute = _clean_attribute(email_attribute, "email claim")
    connection.discovery_url = discovery_url
    connection.issuer = issuer_of(discovery_url)
    connection.client_id = client_id
    connection.id_token_algorithm = id_token_algorithm
    connection.scopes = " ".join(scope_list)
    connection.token_auth_method = token_auth_method
    changed = _changes(before, {k: getattr(connection, k) for k in before})
    if client_secret:
        if len(client_secret) > 1000:
            raise Refusal("The client secret is too long.")
        connection.client_secret_encrypted = encryption.encrypt(client_secret)
        changed.append("client_secret")
    elif not connection.has_client_secret:
        raise Refusal("Enter the client secret the IdP gave you.")
    connection.save()
    _audit(Action.SSO_CONNECTION_UPDATED, actor, connection, changed=changed)
    return connection


# --- Accounts, roles, status ------------------------------------------------------------------


@service
def update_accounts(
    *,
    actor: Membership,
    org: Organization,
    connection_id: Any,
    jit_enabled: bool,
    default_role: str,
    groups_attribute: str,
    role_mapping: dict[str, str],
    mfa_trust: str,
    domain_ids: list[Any],
) -> Connection:
    require(actor, org, Perm.MANAGE_SSO, "sso.update_connection")
    connection = _connection(org, connection_id)
    if default_role not in (Role.MEMBER, Role.ADMIN):
        raise Refusal("New members get the member or admin role.")
    if mfa_trust not in MFATrust.values:
        raise Refusal("Choose how a second factor is handled after SSO.")
    if not isinstance(role_mapping, dict) or len(role_mapping) > 100:
        raise Refusal("Map at most 100 groups.")
    for group, role in role_mapping.items():
        if not isinstance(group, str) or not group.strip() or len(group) > 200:
            raise Refusal("Group names are 1 to 200 characters.")
        if role not in (Role.MEMBER, Role.ADMIN):
            raise Refusal(f"The group {group!r} must map to member or admin.")
    try:
        ids = {int(i) for i in domain_ids}
    except (TypeError, ValueError):
        raise Refusal("Choose domains from the list.") from None
    domains = list(Domain.objects.for_org(org).filter(pk__in=ids, verified_at__isnull=False))
    if len(domains) != len(ids):
        raise Refusal("Only this organization's verified domains can be chosen.")
    before = {
        "jit_enabled": connection.jit_enabled,
        "default_role": connection.default_role,
        "groups_attribute": connection.groups_attribute,
        "role_mapping": connection.role_mapping,
        "mfa_trust": connection.mfa_trust,
        "domains": sorted(connection.domains.values_list("name", flat=True)),
    }
    connection.jit_enabled = bool(jit_enabled)
    connection.default_role = default_role
    connection.groups_attribute = _clean_attribute(groups_attribute, "groups attribute")
    connection.role_mapping = {g.strip(): r for g, r in role_mapping.items()}
    connection.mfa_trust = mfa_trust
    connection.save()
    connection.domains.set(domains)
    after = {**{k: getattr(connection, k) for k in before if k != "domains"}}
    after["domains"] = sorted(d.name for d in domains)
    _audit(Action.SSO_CONNECTION_UPDATED, actor, connection, changed=_changes(before, after))
    return connection


def missing_settings(connection: Connection) -> list[str]:
    """What a connection still lacks before it can be turned on."""
    missing = []
    if connection.is_saml:
        if not connection.idp_entity_id or not connection.idp_sso_url:
            missing.append("the IdP's entity ID and sign-on URL")
        if not connection.certificates.filter(not_after__gt=timezone.now()).exists():
            missing.append("a current IdP signing certificate")
    else:
        if not (connection.discovery_url and connection.issuer and connection.client_id):
            missing.append("the discovery URL and client ID")
        if not connection.has_client_secret:
            missing.append("the client secret")
    if not connection.domains.exists():
        missing.append("at least one verified domain")
    return missing


@service
def activate(*, actor: Membership, org: Organization, connection_id: Any) -> Connection:
    require(actor, org, Perm.MANAGE_SSO, "sso.activate_connection")
    connection = _connection(org, connection_id)
    missing = missing_settings(connection)
    if missing:
        raise Refusal("Before turning it on, add " + ", ".join(missing) + ".")
    if not connection.is_active:
        connection.status = Status.ACTIVE
        connection.save(update_fields=["status", "updated_at"])
        _audit(Action.SSO_CONNECTION_ACTIVATED, actor, connection)
    return connection


@service
def disable(*, actor: Membership, org: Organization, connection_id: Any) -> Connection:
    require(actor, org, Perm.MANAGE_SSO, "sso.disable_connection")
    connection = _connection(org, connection_id)
    if connection.status != Status.DISABLED:
        connection.status = Status.DISABLED
        connection.save(update_fields=["status", "updated_at"])
        _audit(Action.SSO_CONNECTION_DISABLED, actor, connection)
    return connection


@service
def delete_connection(*, actor: Membership, org: Organization, connection_id: Any) -> None:
    """Delete a connection and the identities that came through it (their accounts stay)."""
    require(actor, org, Perm.MANAGE_SSO, "sso.delete_connection")
    connection = _connection(org, connection_id)
    if connection.is_active:
        raise Refusal("Turn the connection off before deleting it.")
    identities = SocialAccount.objects.filter(provider=connection.slug).delete()[0]
    _audit(Action.SSO_CONNECTION_DELETED, actor, connection, identities_removed=identities)
    connection.delete()


@service
def start_test(
    *, actor: Membership, org: Organization, request: HttpRequest, connection_id: Any
) -> Connection:
    """Mark this admin's session for a test login through the connection (sso.entry)."""
    from sso import entry

    require(actor, org, Perm.MANAGE_SSO, "sso.test_connection")
    try:
        connection = Connection.objects.for_org(org).get(pk=int(connection_id))
    except (Connection.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such connection.") from None
    missing = [m for m in missing_settings(connection) if "domain" not in m]
    if missing:
        raise Refusal("Before testing, add " + ", ".join(missing) + ".")
    entry.start_test(request, connection)
    return connection


# --- Certificates about to expire -------------------------------------------------------------

WARN_DAYS = (30, 7)


def certificates_to_warn(now: Any = None) -> list[tuple[IdPCertificate, int]]:
    now = now or timezone.now()
    due = []
    for cert in IdPCertificate.objects.filter(
        not_after__gt=now, not_after__lte=now + timedelta(days=max(WARN_DAYS))
    ).select_related("connection__organization"):
        if cert.connection.status == Status.DISABLED:
            continue
        if cert.connection.certificates.filter(not_after__gt=cert.not_after).exists():
            continue  # a successor is already in place: the rotation is done
        days_left = (cert.not_after - now).days
        # The tightest threshold crossed; a notice for it covers the wider ones too.
        crossed = min((d for d in WARN_DAYS if days_left < d), default=None)
        if crossed is not None and crossed not in cert.warned_days:
            due.append((cert, crossed))
    return due


def mark_warned(cert: IdPCertificate, days: int, recipients: int) -> None:
    # Both thresholds at once when the first notice was missed: one email, not two.
    cert.warned_days = sorted({*cert.warned_days, *[d for d in WARN_DAYS if d >= days]})
    cert.save(update_fields=["warned_days"])
    record(
        Action.SSO_CERTIFICATE_EXPIRING,
        actor_text="system",
        organization=cert.connection.organization,
        target=cert.connection,
        data={
            "connection": cert.connection.slug,
            "fingerprint": cert.fingerprint_sha256,
            "days": days,
            "recipients": recipients,
        },
    )
