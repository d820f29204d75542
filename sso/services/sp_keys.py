"""Gatehouse's own key pair for a SAML connection, and its rotation: start (the metadata offers
the next certificate too), finish (the next key signs from now on), or cancel."""

from __future__ import annotations

from typing import Any

from audit.actions import Action
from config import encryption
from config.refusals import Refusal, service
from organizations.models import Membership, Organization
from organizations.permissions import Perm
from organizations.services import require
from sso import certificates
from sso.models import Connection
from sso.services.common import audit
from sso.services.saml import locked_saml_connection


@service
def start_sp_key_rotation(
    *, actor: Membership, org: Organization, connection_id: Any
) -> Connection:
    """Make Gatehouse's next key pair for this connection. The SP metadata offers both
    certificates until the rotation is finished; requests are still signed with the current key."""
    require(actor, org, Perm.MANAGE_SSO, "sso.rotate_sp_key")
    connection = locked_saml_connection(org, connection_id)
    if connection.sp_next_certificate:
        raise Refusal("A rotation is already under way: finish or cancel it first.")
    cert_pem, key_pem = certificates.new_sp_key_pair(f"Gatehouse {connection.slug}")
    connection.sp_next_certificate = cert_pem
    connection.sp_next_private_key_encrypted = encryption.encrypt(key_pem)
    connection.save()
    info = certificates.read_certificate(cert_pem)
    audit(
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
    connection = locked_saml_connection(org, connection_id)
    if not connection.sp_next_certificate:
        raise Refusal("No rotation is under way.")
    connection.sp_certificate = connection.sp_next_certificate
    connection.sp_private_key_encrypted = connection.sp_next_private_key_encrypted
    connection.sp_next_certificate = ""
    connection.sp_next_private_key_encrypted = ""
    connection.save()
    info = certificates.read_certificate(connection.sp_certificate)
    audit(Action.SSO_SP_KEY_ROTATED, actor, connection, fingerprint=info.fingerprint_sha256)
    return connection


@service
def cancel_sp_key_rotation(
    *, actor: Membership, org: Organization, connection_id: Any
) -> Connection:
    require(actor, org, Perm.MANAGE_SSO, "sso.rotate_sp_key")
    connection = locked_saml_connection(org, connection_id)
    if connection.sp_next_certificate:
        connection.sp_next_certificate = ""
        connection.sp_next_private_key_encrypted = ""
        connection.save()
        audit(Action.SSO_SP_KEY_ROTATION_CANCELLED, actor, connection)
    return connection
