"""An OpenID Connect connection's IdP side: its discovery URL, checked before it is relied on,
and the client Gatehouse is at the IdP.

The discovery document is read before any transaction opens: the IdP's round trip never holds
a row lock. The short write that follows re-reads the connection under a lock.
"""

from __future__ import annotations

import json
import re
from typing import Any

from audit.actions import Action
from config import encryption
from config.refusals import Refusal, service
from organizations.models import Membership, Organization
from organizations.permissions import Perm
from organizations.services import require
from sso import fetch
from sso.models import ID_TOKEN_ALGORITHMS, Connection
from sso.services.common import (
    audit,
    changed_fields,
    clean_attribute,
    clean_name,
    clean_url,
    connection_of_org,
    locked_connection,
)

WELL_KNOWN = "/.well-known/openid-configuration"
DEFAULT_ALGORITHM = "RS256"
DEFAULT_TOKEN_AUTH = "client_secret_basic"  # noqa: S105 (a method name, not a secret)
TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_SETTINGS = (
    "name",
    "discovery_url",
    "client_id",
    "id_token_algorithm",
    "scopes",
    "token_auth_method",
    "email_attribute",
)


def issuer_of(discovery_url: str) -> str:
    return (
        discovery_url[: -len(WELL_KNOWN)] if discovery_url.endswith(WELL_KNOWN) else discovery_url
    )


def _check_endpoints(doc: dict) -> None:
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(doc.get(name), str):
            raise Refusal(f"The discovery document has no {name}.")
        try:
            fetch.check_url(doc[name])
        except fetch.FetchError as exc:
            raise Refusal(f"{name}: {exc}") from None


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
    _check_endpoints(doc)
    methods = doc.get("code_challenge_methods_supported")
    if methods is not None and "S256" not in methods:
        raise Refusal("The IdP does not support PKCE with S256.")
    algorithms = doc.get("id_token_signing_alg_values_supported")
    if algorithms is not None and algorithm not in algorithms:
        raise Refusal(f"The IdP does not sign ID tokens with {algorithm}.")
    return doc


def _clean_settings(
    *,
    name: str,
    discovery_url: str,
    client_id: str,
    id_token_algorithm: str,
    scopes: str,
    token_auth_method: str,
    email_attribute: str,
) -> dict[str, str]:
    """The connection's OIDC fields from what the admin typed, or a refusal saying what to fix."""
    discovery_url = clean_url(discovery_url, "discovery URL", required=True)
    if WELL_KNOWN not in discovery_url:
        discovery_url = discovery_url.rstrip("/") + WELL_KNOWN
    if id_token_algorithm not in ID_TOKEN_ALGORITHMS:
        raise Refusal("Choose an asymmetric signing algorithm, such as RS256.")
    if token_auth_method not in TOKEN_AUTH_METHODS:
        raise Refusal("Choose how Gatehouse authenticates to the token endpoint.")
    client_id = (client_id or "").strip()
    if not client_id or len(client_id) > 255:
        raise Refusal("Enter the client ID the IdP gave you.")
    scope_list = (scopes or "").split()
    if (
        "openid" not in scope_list
        or len(scopes) > 500
        or not all(_SCOPE.fullmatch(s) for s in scope_list)
    ):
        raise Refusal("Scopes are space-separated and must include openid.")
    return {
        "name": clean_name(name),
        "discovery_url": discovery_url,
        "client_id": client_id,
        "id_token_algorithm": id_token_algorithm,
        "scopes": " ".join(scope_list),
        "token_auth_method": token_auth_method,
        "email_attribute": clean_attribute(email_attribute, "email claim"),
    }


@service(durable=False)
def _may_update_oidc(*, actor: Membership, org: Organization, connection_id: Any) -> None:
    """Refuse (on the record) before the IdP is asked anything for a change that is refused."""
    require(actor, org, Perm.MANAGE_SSO, "sso.update_connection")
    if not connection_of_org(org, connection_id).is_oidc:
        raise Refusal("This is not an OpenID Connect connection.")


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
    (it is never shown again). The discovery document is read, and checked, before the
    write's transaction opens."""
    _may_update_oidc(actor=actor, org=org, connection_id=connection_id)
    fields = _clean_settings(
        name=name,
        discovery_url=discovery_url,
        client_id=client_id,
        id_token_algorithm=id_token_algorithm,
        scopes=scopes,
        token_auth_method=token_auth_method,
        email_attribute=email_attribute,
    )
    if len(client_secret) > 1000:
        raise Refusal("The client secret is too long.")
    read_discovery(fields["discovery_url"], fields["id_token_algorithm"])
    return _store_oidc(
        actor=actor,
        org=org,
        connection_id=connection_id,
        fields=fields,
        client_secret=client_secret,
    )


@service
def _store_oidc(
    *,
    actor: Membership,
    org: Organization,
    connection_id: Any,
    fields: dict[str, str],
    client_secret: str,
) -> Connection:
    require(actor, org, Perm.MANAGE_SSO, "sso.update_connection")
    connection = locked_connection(org, connection_id)
    if not connection.is_oidc:
        raise Refusal("This is not an OpenID Connect connection.")
    before = {k: getattr(connection, k) for k in _SETTINGS}
    for key, value in fields.items():
        setattr(connection, key, value)
    connection.issuer = issuer_of(fields["discovery_url"])
    changed = changed_fields(before, {k: getattr(connection, k) for k in _SETTINGS})
    if client_secret:
        connection.client_secret_encrypted = encryption.encrypt(client_secret)
        changed.append("client_secret")
    elif not connection.has_client_secret:
        raise Refusal("Enter the client secret the IdP gave you.")
    connection.save()
    audit(Action.SSO_CONNECTION_UPDATED, actor, connection, changed=changed)
    return connection
