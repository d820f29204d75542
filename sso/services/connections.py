"""A connection's life: created, pointed at accounts and roles, tested, turned on and off,
deleted. Each call checks the acting membership's permission first and is one transaction with
its audit event; refusals are ``Refusal`` (audited when they are access refusals)."""

from __future__ import annotations

import secrets
from typing import Any

from allauth.socialaccount.models import SocialAccount
from django.urls import reverse
from django.utils import timezone

from audit.actions import Action
from config import encryption
from config.refusals import Refusal, service
from organizations.models import Domain, Membership, Organization, Role
from organizations.permissions import Perm
from organizations.services import require
from sso import certificates
from sso.models import Connection, MFATrust, Protocol, Status
from sso.services.common import (
    audit,
    changed_fields,
    clean_attribute,
    clean_name,
    connection_of_org,
    locked_connection,
)


def _new_slug(org: Organization) -> str:
    while True:
        slug = f"{org.slug}-{secrets.token_hex(3)}"
        if not Connection.objects.filter(slug=slug).exists():
            return slug


@service
def create_connection(
    *, actor: Membership, org: Organization, site_url: str, protocol: str, name: str
) -> Connection:
    """A draft connection. A SAML one gets its own key pair, and its SP entity ID from
    ``site_url``, the address the admin's browser reached Gatehouse at (``https://host``): the
    IdP keeps that ID."""
    require(actor, org, Perm.MANAGE_SSO, "sso.create_connection")
    if protocol not in Protocol.values:
        raise Refusal("Choose SAML or OpenID Connect.")
    connection = Connection(
        organization=org,
        protocol=protocol,
        name=clean_name(name),
        slug=_new_slug(org),
        created_by=actor.user,
    )
    if protocol == Protocol.SAML:
        metadata_path = reverse("saml_metadata", kwargs={"organization_slug": connection.slug})
        # Fixed now: the IdP keeps it. It must not follow the Host header of later requests.
        connection.sp_entity_id = site_url.rstrip("/") + metadata_path
        cert_pem, key_pem = certificates.new_sp_key_pair(f"Gatehouse {connection.slug}")
        connection.sp_certificate = cert_pem
        connection.sp_private_key_encrypted = encryption.encrypt(key_pem)
    connection.save()
    # By default a connection serves every verified domain of its organization.
    connection.domains.set(Domain.objects.for_org(org).filter(verified_at__isnull=False))
    audit(Action.SSO_CONNECTION_CREATED, actor, connection, protocol=protocol, name=connection.name)
    return connection


def _clean_role_mapping(role_mapping: dict[str, str]) -> dict[str, str]:
    if not isinstance(role_mapping, dict) or len(role_mapping) > 100:
        raise Refusal("Map at most 100 groups.")
    for group, role in role_mapping.items():
        if not isinstance(group, str) or not group.strip() or len(group) > 200:
            raise Refusal("Group names are 1 to 200 characters.")
        if role not in (Role.MEMBER, Role.ADMIN):
            raise Refusal(f"The group {group!r} must map to member or admin.")
    return {g.strip(): r for g, r in role_mapping.items()}


def _verified_domains(org: Organization, domain_ids: list[Any]) -> list[Domain]:
    try:
        ids = {int(i) for i in domain_ids}
    except (TypeError, ValueError):
        raise Refusal("Choose domains from the list.") from None
    domains = list(Domain.objects.for_org(org).filter(pk__in=ids, verified_at__isnull=False))
    if len(domains) != len(ids):
        raise Refusal("Only this organization's verified domains can be chosen.")
    return domains


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
    """Who the connection lets in (new accounts or not, which domains) and with which role."""
    require(actor, org, Perm.MANAGE_SSO, "sso.update_connection")
    connection = locked_connection(org, connection_id)
    if default_role not in (Role.MEMBER, Role.ADMIN):
        raise Refusal("New members get the member or admin role.")
    if mfa_trust not in MFATrust.values:
        raise Refusal("Choose how a second factor is handled after SSO.")
    mapping = _clean_role_mapping(role_mapping)
    domains = _verified_domains(org, domain_ids)
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
    connection.groups_attribute = clean_attribute(groups_attribute, "groups attribute")
    connection.role_mapping = mapping
    connection.mfa_trust = mfa_trust
    connection.save()
    connection.domains.set(domains)
    after = {**{k: getattr(connection, k) for k in before if k != "domains"}}
    after["domains"] = sorted(d.name for d in domains)
    audit(Action.SSO_CONNECTION_UPDATED, actor, connection, changed=changed_fields(before, after))
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
    connection = locked_connection(org, connection_id)
    missing = missing_settings(connection)
    if missing:
        raise Refusal("Before turning it on, add " + ", ".join(missing) + ".")
    if not connection.is_active:
        connection.status = Status.ACTIVE
        connection.save(update_fields=["status", "updated_at"])
        audit(Action.SSO_CONNECTION_ACTIVATED, actor, connection)
    return connection


@service
def disable(*, actor: Membership, org: Organization, connection_id: Any) -> Connection:
    require(actor, org, Perm.MANAGE_SSO, "sso.disable_connection")
    connection = locked_connection(org, connection_id)
    if connection.status != Status.DISABLED:
        connection.status = Status.DISABLED
        connection.save(update_fields=["status", "updated_at"])
        audit(Action.SSO_CONNECTION_DISABLED, actor, connection)
    return connection


@service
def delete_connection(*, actor: Membership, org: Organization, connection_id: Any) -> None:
    """Delete a connection and the identities that came through it (their accounts stay)."""
    require(actor, org, Perm.MANAGE_SSO, "sso.delete_connection")
    connection = locked_connection(org, connection_id)
    if connection.is_active:
        raise Refusal("Turn the connection off before deleting it.")
    identities = SocialAccount.objects.filter(provider=connection.slug).delete()[0]
    audit(Action.SSO_CONNECTION_DELETED, actor, connection, identities_removed=identities)
    connection.delete()


def testable(connection: Connection) -> bool:
    """Whether a test login can run: everything but the domains is in place (a test shows
    what the IdP sends before any domain is chosen)."""
    return not _missing_for_test(connection)


def _missing_for_test(connection: Connection) -> list[str]:
    return [m for m in missing_settings(connection) if "domain" not in m]


@service
def start_test(*, actor: Membership, org: Organization, connection_id: Any) -> Connection:
    """Whether this admin may run a test login through the connection now: the connection,
    or a refusal. The caller marks the admin's session (``sso.entry.start_test``); nothing is
    written here but the refusal of an admin without the right."""
    require(actor, org, Perm.MANAGE_SSO, "sso.test_connection")
    connection = connection_of_org(org, connection_id)
    missing = _missing_for_test(connection)
    if missing:
        raise Refusal("Before testing, add " + ", ".join(missing) + ".")
    return connection
